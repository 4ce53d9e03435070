"""WebSocket paths other than /ws/chat/: a clean 4404 on every server (PROTOCOL 3.1)."""

import asyncio

import pytest
from websockets.asyncio.client import connect

from tests.conftest import cookie_with_token, token_for
from tests.integration.live.conftest import CLOSE_TIMEOUT_SECONDS, OPEN_TIMEOUT_SECONDS
from tests.integration.live.wire import frames_until_close

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

NOT_FOUND = {"type": "closing", "code": 4404, "reason": "not found"}
# Time for the server to write whatever it logs about a socket that closed.
LOG_SETTLE_SECONDS = 0.3


@pytest.mark.parametrize("path", ["/ws/other/", "/nope"], ids=["ws_other", "nope"])
async def test_a_signed_in_socket_to_an_unknown_path_gets_4404_and_no_server_error(
    daphne_server, user, path
):
    log_before = daphne_server.log_path.stat().st_size
    ws = await connect(
        f"ws://127.0.0.1:{daphne_server.port}{path}",
        origin=daphne_server.origin,
        additional_headers={"Cookie": cookie_with_token(token_for(user))},
        open_timeout=OPEN_TIMEOUT_SECONDS,
        close_timeout=CLOSE_TIMEOUT_SECONDS,
    )
    try:
        frames, code = await frames_until_close(ws)
    finally:
        await ws.close()
    await asyncio.sleep(LOG_SETTLE_SECONDS)
    with daphne_server.log_path.open("rb") as log:
        log.seek(log_before)
        logged = log.read().decode(errors="replace")

    assert frames == [NOT_FOUND]
    assert code == 4404
    assert "unknown path" in logged, "the refusal is logged, below ERROR"
    assert "ERROR" not in logged and "Traceback" not in logged, logged
