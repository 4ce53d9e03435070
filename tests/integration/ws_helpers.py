"""Signed-in chat sockets over Channels' WebsocketCommunicator, for in-process tests."""

from channels.testing import WebsocketCommunicator

from chatproject.asgi import application
from tests.conftest import cookie_with_token, token_for


async def open_chat(user, *, query: str = "") -> tuple[WebsocketCommunicator, dict]:
    """A connected socket of ``user`` and its `hello` frame.

    ``query`` is the URL's query string (``"coalesce=1"``).
    """
    communicator = WebsocketCommunicator(
        application,
        "/ws/chat/" + (f"?{query}" if query else ""),
        headers=[
            (b"origin", b"http://localhost"),
            (b"host", b"localhost"),
            (b"cookie", cookie_with_token(token_for(user)).encode()),
        ],
    )
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    hello = await communicator.receive_json_from(timeout=10)
    assert hello["type"] == "hello"
    return communicator, hello
