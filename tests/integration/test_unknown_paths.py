"""A WebSocket to a path but /ws/chat/ is closed 4404, not a server error (3.1)."""

import logging

import pytest
from channels.testing import WebsocketCommunicator

from chatproject.asgi import application
from tests.conftest import cookie_with_token, token_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    "path",
    ["/ws/other/", "/nope", "/ws/chat/extra/"],
    ids=["ws_other", "nope", "deeper"],
)
async def test_a_signed_in_socket_to_an_unknown_path_gets_one_closing_frame_then_4404(
    user, caplog, path
):
    communicator = WebsocketCommunicator(
        application,
        path,
        headers=[
            (b"origin", b"http://localhost"),
            (b"host", b"localhost"),
            (b"cookie", cookie_with_token(token_for(user)).encode()),
        ],
    )
    try:
        with caplog.at_level(logging.INFO):
            connected, _ = await communicator.connect(timeout=10)
            frame = await communicator.receive_json_from(timeout=10)
            close = await communicator.receive_output(timeout=10)
    finally:
        await communicator.disconnect()

    assert connected
    assert frame == {"type": "closing", "code": 4404, "reason": "not found"}
    assert close == {"type": "websocket.close", "code": 4404, "reason": "not found"}
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
