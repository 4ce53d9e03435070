"""Chat sockets over Channels' WebsocketCommunicator, for in-process tests."""

import asyncio
import json
from collections import deque
from collections.abc import Mapping

from channels.testing import WebsocketCommunicator

from chatproject.asgi import application
from tests.conftest import cookie_with_token, token_for

CHAT_PATH = "/ws/chat/"
# What the site's own page sends: its origin, and the host it was served from.
SITE_HEADERS = {b"origin": b"http://localhost", b"host": b"localhost"}


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


class ChatCommunicator(WebsocketCommunicator):
    """A communicator that sets ``presence`` frames aside in ``presence``.

    They come after ``hello`` and whenever the team's presence changes
    (PROTOCOL.md 5.2), so on any socket at moments the other tests do not
    care about; the presence tests read the list, or :meth:`next_presence`.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.presence: list[dict] = []
        self._held: deque[dict] = deque()

    def _set_aside(self, message: dict) -> bool:
        text = message.get("text") if message.get("type") == "websocket.send" else None
        if not text or '"presence"' not in text:
            return False
        frame = json.loads(text)
        if not isinstance(frame, dict) or frame.get("type") != "presence":
            return False
        self.presence.append(frame)
        return True

    def _drain(self) -> None:
        while not self.output_queue.empty():
            message = self.output_queue.get_nowait()
            if not self._set_aside(message):
                self._held.append(message)

    async def receive_output(self, timeout=1):  # noqa: ASYNC109 (the base class's)
        deadline = asyncio.get_running_loop().time() + timeout
        while not self._held:
            left = max(deadline - asyncio.get_running_loop().time(), 0)
            message = await super().receive_output(left)
            if not self._set_aside(message):
                return message
        return self._held.popleft()

    async def receive_nothing(self, timeout=0.1, interval=0.01):  # noqa: ASYNC109
        if self.future.done():
            self.future.result()
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            self._drain()
            if self._held:
                return False
            if asyncio.get_running_loop().time() >= deadline:
                return True
            await asyncio.sleep(interval)

    async def next_presence(self, timeout: float = 5) -> dict:  # noqa: ASYNC109 (as receive_json_from)
        """The oldest presence frame not yet taken, waiting for one if need be."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not self.presence:
            left = max(deadline - asyncio.get_running_loop().time(), 0)
            message = await super().receive_output(left)
            if not self._set_aside(message):
                self._held.append(message)
        return self.presence.pop(0)


def communicator_for(
    user=None,
    *,
    token: str | None = None,
    cookie: str | bytes | None = None,
    query: str = "",
    headers: Mapping[str | bytes, str | bytes | None] | None = None,
    path: str = CHAT_PATH,
) -> ChatCommunicator:
    """A socket from the site's own page, not yet connected.

    Signed in as ``user`` (a fresh token), with ``token``, or with ``cookie``
    as the whole Cookie header (sent as given, odd bytes included); with none
    of them, no Cookie header. ``query`` is the URL's query string
    (``"coalesce=1"``). ``headers`` adds headers or replaces the site's
    (``{"host": "localhost:8000"}``); a value of None leaves that header out.
    """
    if sum(given is not None for given in (user, token, cookie)) > 1:
        raise TypeError("give one of user, token and cookie")
    if user is not None:
        token = token_for(user)
    if token is not None:
        cookie = cookie_with_token(token)
    wanted = dict(SITE_HEADERS)
    if cookie is not None:
        wanted[b"cookie"] = _as_bytes(cookie)
    for name, value in (headers or {}).items():
        wanted[_as_bytes(name).lower()] = value
    return ChatCommunicator(
        application,
        path + (f"?{query}" if query else ""),
        headers=[
            (name, _as_bytes(value))
            for name, value in wanted.items()
            if value is not None
        ],
    )


async def open_chat(user=None, **options) -> tuple[ChatCommunicator, dict]:
    """A connected socket and its `hello` frame; ``options`` as for
    :func:`communicator_for` (``token=``, ``query="coalesce=1"``, ``headers=``)."""
    communicator = communicator_for(user, **options)
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    hello = await communicator.receive_json_from(timeout=10)
    assert hello["type"] == "hello"
    return communicator, hello
