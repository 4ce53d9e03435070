"""Many short-lived sockets leave nothing behind: no timer, task or group member
(in the process hub or the channel layer)."""

import asyncio

import pytest
from channels.layers import get_channel_layer

from chat.hub import hub
from tests.conftest import token_for
from tests.integration.ws_helpers import communicator_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CYCLES = 10_000


def live_timers(loop) -> list[asyncio.TimerHandle]:
    # The loop's heap of pending call_later() handles (CPython's asyncio).
    return [handle for handle in loop._scheduled if not handle.cancelled()]


async def test_ten_thousand_expiring_sockets_leave_nothing_behind(
    user, admin_user, settings, memory_layer
):
    # Shorter than the warning period: every socket arms both of its timers.
    settings.JWT_LIFETIME_SECONDS = 30
    loop = asyncio.get_running_loop()
    layer = get_channel_layer()

    tasks_before = len(asyncio.all_tasks())
    timers_before = len(live_timers(loop))

    for n in range(CYCLES):
        if n % 500 == 0:
            # Fresh tokens now and then: the run outlasts one token's lifetime.
            token_of = {who: token_for(who) for who in (user, admin_user)}
        who = admin_user if n % 2 else user
        communicator = communicator_for(token=token_of[who])
        connected, _ = await communicator.connect(timeout=5)
        assert connected
        assert (await communicator.receive_json_from(timeout=10))["type"] == "hello"
        assert (await communicator.receive_json_from(timeout=10))[
            "type"
        ] == "session.expiring"
        await communicator.disconnect()

    await asyncio.sleep(0.1)
    assert len(asyncio.all_tasks()) == tasks_before
    assert len(live_timers(loop)) == timers_before
    assert hub.members == {}
    assert sum(len(members) for members in layer.groups.values()) == 0
    assert len(layer.channels) == 0
