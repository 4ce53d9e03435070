"""Just enough RFC 6455 for a load generator: one asyncio Protocol per socket.

A general-purpose client library spends 15-30 µs of Python per received
frame (a reader task, a queue, a coroutine wake-up per ``recv()``). At the
original's capacity that is 40,000 frames/s, more than one core can give, and
the benchmark would measure the generator instead of the server. Here a
received frame is parsed in ``data_received`` and handed to a plain callback,
with no task or future per frame. Both drivers (ours and Socket.IO) use this
same client, so the generator's cost per frame is the same for both servers.

Not handled, because neither server does it: extensions (no
permessage-deflate is offered), frames over 2**63 bytes.
"""

import asyncio
import base64
import hashlib
import os
from collections.abc import Callable

try:  # the C helper that `websockets` ships (requirements-dev.txt)
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - pure-Python fallback

    def apply_mask(data: bytes, mask: bytes) -> bytes:
        n = len(data)
        key = (mask * (n // 4 + 1))[:n]
        return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(
            n, "big"
        )


GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


class HandshakeFailed(Exception):
    pass


class WebSocketClient(asyncio.Protocol):
    """One client socket; ``on_message(payload: bytes)`` is called per data frame."""

    def __init__(self, on_message: Callable[[bytes], None]):
        self.on_message = on_message
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future = loop.create_future()
        self.closed: asyncio.Future = loop.create_future()
        self.close_code: int | None = None
        self.close_reason = ""
        self._buf = bytearray()
        self._open = False
        self._accept = b""
        self._fragments: list[bytes] | None = None
        self._close_sent = False

    # -- handshake ---------------------------------------------------------------
    def connection_made(self, transport):
        self.transport = transport

    def start(self, host: str, path: str, headers: dict[str, str]) -> None:
        key = base64.b64encode(os.urandom(16))
        # SHA-1 because RFC 6455 says so; it only proves the server read the key.
        digest = hashlib.sha1(key + GUID, usedforsecurity=False).digest()
        self._accept = base64.b64encode(digest)
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key.decode()}",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def _handshake(self) -> bool:
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buf) > 65536:
                self._fail(HandshakeFailed("response headers too large"))
            return False
        head = bytes(self._buf[:end]).decode("latin-1").split("\r\n")
        del self._buf[: end + 4]
        status = head[0].split(" ", 2)
        if len(status) < 2 or status[1] != "101":
            self._fail(HandshakeFailed(f"HTTP {head[0]!r}"))
            return False
        fields = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        if fields.get("sec-websocket-accept", "").encode() != self._accept:
            self._fail(HandshakeFailed("bad Sec-WebSocket-Accept"))
            return False
        self._open = True
        if not self.opened.done():
            self.opened.set_result(None)
        return True

    def _fail(self, exc: Exception) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc)
        self.transport.abort()

    # -- frames ------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        if not self._open and not self._handshake():
            return
        on_message = self.on_message
        while True:
            n = len(buf)
            if n < 2:
                return
            b0 = buf[0]
            b1 = buf[1]
            length = b1 & 0x7F
            pos = 2
            if length == 126:
                if n < 4:
                    return
                length = (buf[2] << 8) | buf[3]
                pos = 4
            elif length == 127:
                if n < 10:
                    return
                length = int.from_bytes(buf[2:10], "big")
                pos = 10
            if b1 & 0x80:  # a server never masks
                self.close_code = 1002
                self.transport.abort()
                return
            end = pos + length
            if n < end:
                return
            payload = bytes(buf[pos:end])
            del buf[:end]
            opcode = b0 & 0x0F
            if opcode in (OP_TEXT, OP_BINARY):
                if b0 & 0x80:
                    on_message(payload)
                else:
                    self._fragments = [payload]
            elif opcode == OP_CONT:
                if self._fragments is not None:
                    self._fragments.append(payload)
                    if b0 & 0x80:
                        whole = b"".join(self._fragments)
                        self._fragments = None
                        on_message(whole)
            elif opcode == OP_PING:
                self._send(OP_PONG, payload)
            elif opcode == OP_CLOSE:
                if len(payload) >= 2:
                    self.close_code = int.from_bytes(payload[:2], "big")
                    self.close_reason = payload[2:].decode("utf-8", "replace")
                else:
                    self.close_code = 1005
                if not self._close_sent:
                    self._send(OP_CLOSE, payload[:2])
                    self._close_sent = True
                self.transport.close()
                return

    def connection_lost(self, exc):
        if not self.opened.done():
            self.opened.set_exception(
                HandshakeFailed(f"connection lost before the handshake: {exc}")
            )
        if self.close_code is None:
            self.close_code = 1006
        if not self.closed.done():
            self.closed.set_result(self.close_code)

    def _send(self, opcode: int, payload: bytes) -> None:
        n = len(payload)
        if n < 126:
            header = bytes((0x80 | opcode, 0x80 | n))
        elif n < 65536:
            header = bytes((0x80 | opcode, 0xFE)) + n.to_bytes(2, "big")
        else:
            header = bytes((0x80 | opcode, 0xFF)) + n.to_bytes(8, "big")
        mask = os.urandom(4)
        self.transport.write(header + mask + apply_mask(payload, mask))

    # -- public ------------------------------------------------------------------
    def send_text(self, payload: bytes) -> None:
        if not self._close_sent and not self.transport.is_closing():
            self._send(OP_TEXT, payload)

    def start_close(self, code: int = 1000) -> None:
        """Send a close frame; the server answers and closes the TCP connection."""
        if self.transport is None or self.transport.is_closing():
            return
        if not self._close_sent:
            self._close_sent = True
            self._send(OP_CLOSE, code.to_bytes(2, "big"))

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


async def connect(
    client: WebSocketClient,
    port: int,
    path: str,
    headers: dict[str, str],
    wait_s: float,
) -> WebSocketClient:
    """Open ``client``'s socket to 127.0.0.1:``port``; raises on a refusal or timeout.

    The client object exists before the connection, so a frame that arrives
    in the same read as the handshake answer finds its owner ready.
    """
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(wait_s):
        await loop.create_connection(lambda: client, "127.0.0.1", port)
        client.start(f"127.0.0.1:{port}", path, headers)
        try:
            await client.opened
        except BaseException:
            client.abort()
            raise
    return client


async def close_all(clients, wait_s: float = 5.0) -> None:
    """Close every socket with a close handshake; abort those left after ``wait_s``."""
    waiting = []
    for client in clients:
        client.start_close()
        waiting.append(client.closed)
    if waiting:
        _, pending = await asyncio.wait(waiting, timeout=wait_s)
        if pending:
            for client in clients:
                if not client.closed.done():
                    client.abort()
            await asyncio.wait(pending, timeout=1.0)
