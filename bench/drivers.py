"""Client drivers behind one small interface: our protocol and the original's Socket.IO.

A driver opens authenticated sockets; a socket (``Conn``) is ready once the
server said it is (our ``hello``, Socket.IO's namespace CONNECT ack), sends a
chat message with ``send_chat(text)`` and hands every chat message it
receives, as the raw frame, to ``conn.on_chat(conn, payload)``. Anything else
it receives is counted in ``conn.other`` (the last one kept for diagnostics).

What each server delivers for one message from a user (``echo``: whether the
sender's own socket gets it, so the scenarios know what to expect):
- ours (PROTOCOL.md 3.3): every socket of the thread's user -- the sender --
  and every admin socket: 5 admins + 1 echo = 6 frames.
- the original (server.js): ``io.to("user:" + para)`` and, for a non-admin
  sender, ``io.to("admins")``. The benchmark's users send ``para`` = their own
  name, so they are in room ``user:<para>``: 5 admins + 1 echo = 6 frames, the
  same work as ours. (The original browser sends ``para: "admin"``; with
  ``--original-para admin`` the room is empty and a message is 5 frames.)

The Socket.IO driver speaks Engine.IO 4 / Socket.IO 5 over ``bench.wsclient``
(``transports=["websocket"]``): open packet ``0{...}`` -> ``40`` -> ack
``40{...}`` (or ``44{...}`` connect_error); events ``42[name, data]``; the
server's ping ``2`` is answered ``3``. ``PySocketIODriver`` does the same through
python-socketio's AsyncClient, to cross-check the framing (``--sio-client
python-socketio``); it costs the generator several times more per frame.
"""

import asyncio
import json
import time
from collections.abc import Callable

import jwt

from bench import wsclient

CONNECT_TIMEOUT = 15.0


class ConnectFailed(Exception):
    pass


def _ignore(conn, payload):
    pass


class Conn:
    """One ready socket; driver-specific subclasses parse and build frames."""

    __slots__ = ("index", "last_other", "on_chat", "other", "ready", "username", "ws")

    def __init__(self, username: str):
        self.index = -1
        self.username = username
        self.ws: wsclient.WebSocketClient | None = None
        self.ready = asyncio.get_running_loop().create_future()
        self.on_chat: Callable[[Conn, bytes], None] = _ignore
        self.other = 0
        self.last_other = b""

    def _other(self, payload: bytes) -> None:
        self.other += 1
        self.last_other = payload[:300]

    def send_chat(self, text: str) -> None:
        raise NotImplementedError

    @property
    def close_code(self) -> int | None:
        return self.ws.close_code if self.ws else None


# -- ours ---------------------------------------------------------------------------


class OursConn(Conn):
    __slots__ = ()
    # Also the start of a coalesced '{"type":"messages",...}' frame.
    CHAT = b'{"type":"message'
    BATCH = b'{"type":"messages"'

    def _frame(self, payload: bytes) -> None:
        if payload.startswith(self.BATCH):
            # Each message in it carries its own marker (scenarios.Tally):
            # hand them over one by one, without decoding the JSON.
            start = payload.find(b"~B")
            while start >= 0:
                end = payload.find(b"~", start + 2)
                self.on_chat(self, payload[start : end + 1])
                start = payload.find(b"~B", end + 1)
        elif payload.startswith(self.CHAT):
            self.on_chat(self, payload)
        elif not self.ready.done():
            frame = json.loads(payload)
            if frame.get("type") == "hello":
                self.ready.set_result(frame)
            else:
                self.ready.set_exception(ConnectFailed(f"before hello: {frame}"))
        else:
            self._other(payload)

    def send_chat(self, text: str) -> None:
        # The marker text is ASCII without quotes or backslashes (scenarios),
        # so the frame is built without a JSON encoder.
        self.ws.send_text(
            b'{"type":"send","text":"%s","client_id":"c%s"}'
            % (text.encode(), text[-12:].encode())
        )


class OursDriver:
    name = "ours"
    echo = True

    def __init__(self, port: int, tokens: dict[str, str], coalesce: bool = False):
        self.port = port
        self.tokens = tokens
        self.path = "/ws/chat/?coalesce=1" if coalesce else "/ws/chat/"

    async def connect(self, username: str) -> Conn:
        conn = OursConn(username)
        headers = {
            "Origin": f"http://127.0.0.1:{self.port}",
            "Cookie": f"token={self.tokens[username]}",
        }
        try:
            conn.ws = wsclient.WebSocketClient(conn._frame)
            await wsclient.connect(
                conn.ws, self.port, self.path, headers, CONNECT_TIMEOUT
            )
            async with asyncio.timeout(CONNECT_TIMEOUT):
                await conn.ready
        except BaseException:
            if conn.ws:
                conn.ws.abort()
            raise
        return conn

    async def close(self, conns) -> None:
        await wsclient.close_all([c.ws for c in conns if c.ws])


# -- the original (Socket.IO over our WebSocket client) -----------------------------


def original_token(secret: str, username: str, name: str, rol: str) -> str:
    """The original app's cookie JWT: HS256, claims {user, name, rol, iat, exp}."""
    now = int(time.time())
    return jwt.encode(
        {"user": username, "name": name, "rol": rol, "iat": now, "exp": now + 7200},
        secret,
        algorithm="HS256",
    )


class SioConn(Conn):
    __slots__ = ("para",)
    CHAT = b'42["mensaje_recibido"'

    def _frame(self, payload: bytes) -> None:
        if payload.startswith(self.CHAT):
            self.on_chat(self, payload)
        elif payload == b"2":  # Engine.IO ping
            self.ws.send_text(b"3")
        elif payload.startswith(b"0{"):  # Engine.IO open: connect to namespace "/"
            self.ws.send_text(b"40")
        elif not self.ready.done() and payload.startswith(b"40"):
            self.ready.set_result(payload)
        elif not self.ready.done() and payload.startswith(b"44"):
            self.ready.set_exception(ConnectFailed(payload.decode(errors="replace")))
        else:
            self._other(payload)

    def send_chat(self, text: str) -> None:
        self.ws.send_text(
            b'42["mensaje_privado",{"para":"%s","mensaje":"%s"}]'
            % (self.para.encode(), text.encode())
        )


class SioDriver:
    name = "socket.io"

    def __init__(self, port: int, tokens: dict[str, str], para: str = "self"):
        self.port = port
        self.tokens = tokens
        self.para = para
        self.echo = para == "self"

    async def connect(self, username: str) -> Conn:
        conn = SioConn(username)
        conn.para = username if self.para == "self" else self.para
        headers = {
            "Origin": f"http://127.0.0.1:{self.port}",
            "Cookie": f"token={self.tokens[username]}",
        }
        try:
            conn.ws = wsclient.WebSocketClient(conn._frame)
            await wsclient.connect(
                conn.ws,
                self.port,
                "/socket.io/?EIO=4&transport=websocket",
                headers,
                CONNECT_TIMEOUT,
            )
            async with asyncio.timeout(CONNECT_TIMEOUT):
                await conn.ready
        except BaseException:
            if conn.ws:
                conn.ws.abort()
            raise
        return conn

    async def close(self, conns) -> None:
        await wsclient.close_all([c.ws for c in conns if c.ws])


# -- the original through python-socketio (cross-check) -----------------------------


class PySioConn(Conn):
    __slots__ = ("para", "sending", "sio")

    def send_chat(self, text: str) -> None:
        task = asyncio.ensure_future(
            self.sio.emit("mensaje_privado", {"para": self.para, "mensaje": text})
        )
        self.sending.add(task)
        task.add_done_callback(self.sending.discard)

    @property
    def close_code(self):
        return None


class PySocketIODriver(SioDriver):
    name = "python-socketio"

    async def connect(self, username: str) -> Conn:
        import socketio  # bench/requirements.txt

        conn = PySioConn(username)
        conn.sending = set()
        conn.para = username if self.para == "self" else self.para
        conn.sio = sio = socketio.AsyncClient(reconnection=False)

        @sio.on("mensaje_recibido")
        def _received(data):
            conn.on_chat(conn, data.get("mensaje", "").encode())

        try:
            await sio.connect(
                f"http://127.0.0.1:{self.port}",
                headers={"Cookie": f"token={self.tokens[username]}"},
                transports=["websocket"],
                wait_timeout=CONNECT_TIMEOUT,
            )
        except socketio.exceptions.ConnectionError as err:
            raise ConnectFailed(str(err)) from err
        conn.ready.set_result(None)
        return conn

    async def close(self, conns) -> None:
        await asyncio.gather(
            *(c.sio.disconnect() for c in conns if c.sio.connected),
            return_exceptions=True,
        )
