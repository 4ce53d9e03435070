"""Sockets that go quiet are closed (chat.idle): nothing, not even a ping, for
SOCKET_IDLE_SECONDS closes 4010; any frame, a ping included, keeps a socket."""

import asyncio
import time

import pytest

from tests.integration.ws_helpers import open_chat

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("memory_layer"),
]

IDLE_SECONDS = 1


async def test_a_quiet_socket_is_closed_and_a_pinging_one_is_kept(
    user, admin_user, settings
):
    settings.SOCKET_IDLE_SECONDS = IDLE_SECONDS
    quiet, _ = await open_chat(user)
    pinging, _ = await open_chat(admin_user)
    opened = time.monotonic()
    while time.monotonic() - opened < IDLE_SECONDS * 1.5:
        await pinging.send_json_to({"type": "ping"})
        assert await pinging.receive_json_from(timeout=2) == {"type": "pong"}
        await asyncio.sleep(IDLE_SECONDS / 5)
        if time.monotonic() - opened < IDLE_SECONDS:
            # Not closed before its time.
            assert await quiet.receive_nothing(timeout=0)
    closing = await quiet.receive_json_from(timeout=2)
    assert closing == {"type": "closing", "code": 4010, "reason": "idle"}
    assert (await quiet.receive_output(timeout=2))["code"] == 4010
    await pinging.send_json_to({"type": "ping"})
    assert await pinging.receive_json_from(timeout=2) == {"type": "pong"}
    await pinging.disconnect()
