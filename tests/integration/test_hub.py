"""The per-process hub: local fan-out, relays between processes, exactly once."""

import asyncio

import pytest
from channels.layers import channel_layers

from chat.hub import Hub
from tests.conftest import layer_config


class Socket:
    def __init__(self):
        self.events = []

    async def hub_event(self, event):
        self.events.append(event)


class Broken:
    async def hub_event(self, event):
        raise ConnectionResetError("gone")


async def settle():
    await asyncio.sleep(0.3)


async def test_local_members_get_each_event_once_and_the_skipped_one_none(settings):
    settings.CHANNEL_LAYERS = layer_config("memory", None)
    channel_layers.backends.clear()
    hub, sender, other = Hub(), Socket(), Socket()
    await hub.join("admins", sender)
    await hub.join("admins", other)
    await hub.publish("admins", {"type": "chat.message", "text": "x"}, skip=sender)
    assert other.events == [{"type": "chat.message", "text": "x"}]
    assert sender.events == []


async def test_a_broken_socket_does_not_cost_the_others_their_event(settings):
    settings.CHANNEL_LAYERS = layer_config("memory", None)
    channel_layers.backends.clear()
    hub, healthy = Hub(), Socket()
    await hub.join("admins", Broken())
    await hub.join("admins", healthy)
    await hub.publish("admins", {"type": "chat.message", "text": "x"})
    assert len(healthy.events) == 1


async def test_leaving_the_last_member_forgets_the_group(settings):
    settings.CHANNEL_LAYERS = layer_config("memory", None)
    channel_layers.backends.clear()
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
        for hub in (first, second):
            if hub._relay_task is not None:
                hub._relay_task.cancel()
        channel_layers.backends.clear()
