"""The per-process hub: local fan-out, relays between processes, exactly once."""

import asyncio

import pytest
from channels.layers import channel_layers

from chat.hub import Hub
from tests.conftest import layer_config
from tests.hub_members import Broken, Socket


async def settle():
    await asyncio.sleep(0.3)


@pytest.mark.usefixtures("memory_layer")
async def test_local_members_get_each_event_once():
    hub, sender, other, elsewhere = Hub(), Socket(), Socket(), Socket()
    await hub.join("admins", sender)
    await hub.join("admins", other)
    await hub.join("user_ana", elsewhere)
    await hub.publish("admins", {"type": "chat.message", "texts": ["x"]})
    assert other.events == [{"type": "chat.message", "texts": ["x"]}]
    assert sender.events == other.events
    assert elsewhere.events == []


@pytest.mark.usefixtures("memory_layer")
async def test_a_broken_socket_does_not_cost_the_others_their_event():
    hub, healthy = Hub(), Socket()
    await hub.join("admins", Broken())
    await hub.join("admins", healthy)
    await hub.publish("admins", {"type": "chat.message", "text": "x"})
    assert len(healthy.events) == 1


@pytest.mark.usefixtures("memory_layer")
async def test_leaving_the_last_member_forgets_the_group():
    hub, socket = Hub(), Socket()
    await hub.join("user_ana", socket)
    await hub.leave("user_ana", socket)
    assert hub.members == {}


@pytest.mark.redis
async def test_two_processes_each_deliver_once_through_redis(settings, redis_url):
    """Two hubs on one Redis stand for two server processes."""
    settings.CHANNEL_LAYERS = layer_config("redis", redis_url)
    channel_layers.backends.clear()
    first, second = Hub(), Hub()
    here, there, elsewhere = Socket(), Socket(), Socket()
    try:
        await first.join("admins", here)
        await second.join("admins", there)
        await second.join("user_ana", elsewhere)
        await settle()
        await first.publish("admins", {"type": "chat.message", "text": "hola"})
        await settle()
        assert here.events == [{"type": "chat.message", "text": "hola"}]
        assert there.events == [{"type": "chat.message", "text": "hola"}]
        assert elsewhere.events == []
    finally:
        stop_relays(first, second)


@pytest.mark.redis
async def test_queued_relays_arrive_in_order(settings, redis_url):
    """Relays the writer does not wait for still reach other processes in order."""
    settings.CHANNEL_LAYERS = layer_config("redis", redis_url)
    channel_layers.backends.clear()
    first, second = Hub(), Hub()
    here, there = Socket(), Socket()
    try:
        await first.join("admins", here)
        await second.join("admins", there)
        await settle()
        for n in range(50):
            await first.publish("admins", {"type": "chat.message", "n": n}, wait=False)
        assert [event["n"] for event in here.events] == list(range(50))
        for _ in range(50):
            if len(there.events) == 50:
                break
            await asyncio.sleep(0.1)
        assert [event["n"] for event in there.events] == list(range(50))
    finally:
        stop_relays(first, second)


def stop_relays(*hubs: Hub) -> None:
    for hub in hubs:
        for task in (hub._relay_task, hub._relay_sender):
            if task is not None:
                task.cancel()
    channel_layers.backends.clear()
