"""A WebSocket to a path but /ws/chat/ is closed 4404, not a server error (3.1)."""

import logging

import pytest

from tests.integration.ws_helpers import communicator_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    "path",
    ["/ws/other/", "/nope", "/ws/chat/extra/"],
    ids=["ws_other", "nope", "deeper"],
)
async def test_a_signed_in_socket_to_an_unknown_path_gets_one_closing_frame_then_4404(
    user, caplog, path
):
    communicator = communicator_for(user, path=path)
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
