"""Chat sockets over Channels' WebsocketCommunicator, for in-process tests."""

from collections.abc import Mapping

from channels.testing import WebsocketCommunicator

from chatproject.asgi import application
from tests.conftest import cookie_with_token, token_for

CHAT_PATH = "/ws/chat/"
# What the site's own page sends: its origin, and the host it was served from.
SITE_HEADERS = {b"origin": b"http://localhost", b"host": b"localhost"}


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


def communicator_for(
    user=None,
    *,
    token: str | None = None,
    cookie: str | bytes | None = None,
    query: str = "",
    headers: Mapping[str | bytes, str | bytes | None] | None = None,
    path: str = CHAT_PATH,
) -> WebsocketCommunicator:
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
    return WebsocketCommunicator(
        application,
        path + (f"?{query}" if query else ""),
        headers=[
            (name, _as_bytes(value))
            for name, value in wanted.items()
            if value is not None
        ],
    )


async def open_chat(user=None, **options) -> tuple[WebsocketCommunicator, dict]:
    """A connected socket and its `hello` frame; ``options`` as for
    :func:`communicator_for` (``token=``, ``query="coalesce=1"``, ``headers=``)."""
    communicator = communicator_for(user, **options)
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    hello = await communicator.receive_json_from(timeout=10)
    assert hello["type"] == "hello"
    return communicator, hello
