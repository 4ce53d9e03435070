"""A small JSON client over a real WebSocket, every wait bounded."""

import asyncio
import json
import urllib.request
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from tests.conftest import cookie_with_token

RECV_TIMEOUT_SECONDS = 5
# Long enough for a duplicate or stray delivery to show up on either layer.
QUIET_SECONDS = 0.4
HTTP_TIMEOUT_SECONDS = 5


class ChatSocket:
    """A chat connection speaking JSON frames; ``hello`` is its first frame.

    ``conversation`` frames (the desk's, on admin sockets) are set aside in
    ``conversations``, and ``presence`` frames (on every socket, after hello
    and on every change of the team) in ``presence``: the message tests
    count messages, and the desk's and presence tests read those lists.
    """

    def __init__(self, ws: ClientConnection):
        self.ws = ws
        self.hello: dict[str, Any] | None = None
        self.conversations: list[dict[str, Any]] = []
        self.presence: list[dict[str, Any]] = []

    async def send_json(self, frame: Any) -> None:
        await self.ws.send(json.dumps(frame))

    async def recv_json(self, seconds: float = RECV_TIMEOUT_SECONDS) -> Any:
        deadline = asyncio.get_running_loop().time() + seconds
        while True:
            left = deadline - asyncio.get_running_loop().time()
            raw = await asyncio.wait_for(self.ws.recv(), max(left, 0))
            assert isinstance(raw, str), f"expected a text frame, got {raw!r}"
            frame = json.loads(raw)
            if frame.get("type") == "conversation":
                self.conversations.append(frame["conversation"])
            elif frame.get("type") == "presence":
                self.presence.append(frame)
            else:
                return frame

    async def conversation(self, seconds: float = RECV_TIMEOUT_SECONDS) -> Any:
        """The next ``conversation`` frame's body; any other frame first fails."""
        deadline = asyncio.get_running_loop().time() + seconds
        while not self.conversations:
            left = deadline - asyncio.get_running_loop().time()
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), max(left, 0)))
            if frame.get("type") == "presence":
                self.presence.append(frame)
                continue
            if frame.get("type") != "conversation":
                raise AssertionError(f"expected a conversation frame, got {frame!r}")
            self.conversations.append(frame["conversation"])
        return self.conversations.pop(0)

    async def next_presence(self, seconds: float = RECV_TIMEOUT_SECONDS) -> Any:
        """The oldest ``presence`` frame not yet taken; any other frame first fails
        (conversation frames aside)."""
        deadline = asyncio.get_running_loop().time() + seconds
        while not self.presence:
            left = deadline - asyncio.get_running_loop().time()
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), max(left, 0)))
            if frame.get("type") == "conversation":
                self.conversations.append(frame["conversation"])
            elif frame.get("type") == "presence":
                self.presence.append(frame)
            else:
                raise AssertionError(f"expected a presence frame, got {frame!r}")
        return self.presence.pop(0)

    async def read(self, count: int) -> list[Any]:
        """Exactly the next ``count`` frames."""
        return [await self.recv_json() for _ in range(count)]

    async def read_then_quiet(self, count: int) -> list[Any]:
        """The next ``count`` frames, then proof that nothing more arrives."""
        frames = await self.read(count)
        await self.assert_quiet()
        return frames

    async def assert_quiet(self, seconds: float = QUIET_SECONDS) -> None:
        try:
            extra = await self.recv_json(seconds)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected frame: {extra!r}")

    async def roundtrip(self, text: str, client_id: str, **extra: Any) -> Any:
        """Send a valid message and return the next frame (its echo, if all is well)."""
        await self.send_json(
            {"type": "send", "text": text, "client_id": client_id, **extra}
        )
        return await self.recv_json()


async def frames_until_close(ws: ClientConnection) -> tuple[list[Any], int | None]:
    """Every frame the server sends until it closes, presence frames aside (they
    may come at any time), and the close code it sent."""
    frames: list[Any] = []

    async def drain() -> int | None:
        while True:
            try:
                raw = await ws.recv()
            except ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else None
            frame = json.loads(raw) if isinstance(raw, str) else raw
            if not (isinstance(frame, dict) and frame.get("type") == "presence"):
                frames.append(frame)

    code = await asyncio.wait_for(drain(), RECV_TIMEOUT_SECONDS)
    return frames, code


def _get_json(url: str, token: str) -> tuple[int, Any]:
    request = urllib.request.Request(  # noqa: S310 (a loopback http:// URL)
        url, headers={"Cookie": cookie_with_token(token)}
    )
    with urllib.request.urlopen(  # noqa: S310
        request, timeout=HTTP_TIMEOUT_SECONDS
    ) as response:
        return response.status, json.loads(response.read())


async def get_json(base_url: str, path: str, token: str) -> tuple[int, Any]:
    """GET ``path`` from the live server with the ``token`` cookie; status and body."""
    return await asyncio.to_thread(_get_json, base_url + path, token)
