"""The hub in one process, with fake members: who gets what, and the consumer side
(``HubMember``). Relays between processes are in tests/integration/test_hub.py."""

import asyncio
import logging

import pytest
from channels.exceptions import StopConsumer

from chat.hub import Hub, hub
from chat.hub_member import HubMember
from tests.hub_members import Broken, Socket

pytestmark = pytest.mark.usefixtures("memory_layer")

EVENT = {"type": "chat.message", "texts": ["hola"]}


class Consumer(HubMember):
    """A consumer's hub side, with a handler per event type it knows."""

    def __init__(self):
        self.handled = []

    async def chat_message(self, event):
        self.handled.append(("chat_message", event))

    async def session_revoke(self, event):
        self.handled.append(("session_revoke", event))

    async def websocket_disconnect(self, message):
        raise StopConsumer


@pytest.fixture
async def consumer():
    """A Consumer that is out of the process hub at teardown, whatever the test did."""
    member = Consumer()
    yield member
    for group, members in list(hub.members.items()):
        if member in members:
            await hub.leave(group, member)


def in_no_group(member) -> bool:
    return all(member not in members for members in hub.members.values())


async def test_deliver_locally_counts_the_members_that_took_the_event():
    local = Hub()
    for member in (Socket(), Broken(), Socket()):
        await local.join("admins", member)
    assert await local.deliver_locally("admins", EVENT) == 2


async def test_deliver_locally_to_a_group_without_members_counts_none():
    assert await Hub().deliver_locally("admins", EVENT) == 0


async def test_a_failed_delivery_is_logged_with_its_group(caplog):
    local = Hub()
    await local.join("admins", Broken())
    with caplog.at_level(logging.ERROR, logger="chat.hub"):
        await local.publish("admins", EVENT)
    assert "delivery to a socket of admins failed" in caplog.text


class Stalled:
    """A member whose socket has no room until ``room`` is set, as a client's
    that stopped reading: its deliveries wait."""

    def __init__(self):
        self.events = []
        self.room = asyncio.Event()

    async def hub_event(self, event):
        await self.room.wait()
        self.events.append(event)


async def test_a_socket_that_must_wait_holds_up_no_other_socket():
    local, stalled, reading = Hub(), Stalled(), Socket()
    await local.join("admins", stalled)
    await local.join("admins", reading)
    events = [{"type": "chat.message", "texts": [str(n)]} for n in range(3)]
    for event in events:
        # Returns at once: nothing waits for the stalled socket.
        await asyncio.wait_for(local.publish("admins", event), 1)
    assert reading.events == events
    assert stalled.events == []
    stalled.room.set()
    for _ in range(10):
        await asyncio.sleep(0)
    # Once it has room, it gets everything, in order, once.
    assert stalled.events == events
    assert local._behind == {}


async def test_a_socket_that_fails_after_waiting_is_logged_and_forgotten(caplog):
    class GoneWhileWaiting(Stalled):
        async def hub_event(self, event):
            await self.room.wait()
            raise ConnectionResetError("gone")

    local, gone = Hub(), GoneWhileWaiting()
    await local.join("admins", gone)
    with caplog.at_level(logging.ERROR, logger="chat.hub"):
        await local.publish("admins", EVENT)
        await local.publish("admins", EVENT)
        gone.room.set()
        for _ in range(10):
            await asyncio.sleep(0)
    assert "delivery to a socket of admins failed" in caplog.text
    assert local._behind == {}


async def test_a_member_that_left_gets_nothing_and_the_rest_still_do():
    local, leaving, staying = Hub(), Socket(), Socket()
    await local.join("admins", leaving)
    await local.join("admins", staying)
    await local.leave("admins", leaving)
    await local.publish("admins", EVENT)
    assert (leaving.events, staying.events) == ([], [EVENT])


async def test_a_member_joined_twice_gets_each_event_once():
    local, socket = Hub(), Socket()
    await local.join("admins", socket)
    await local.join("admins", socket)
    await local.publish("admins", EVENT)
    assert socket.events == [EVENT]


async def test_a_member_of_two_groups_gets_the_events_of_both():
    local, socket = Hub(), Socket()
    await local.join("admins", socket)
    await local.join("user_ana", socket)
    await local.publish("admins", {"type": "chat.message", "n": 1})
    await local.publish("user_ana", {"type": "chat.message", "n": 2})
    assert [event["n"] for event in socket.events] == [1, 2]


async def test_leaving_a_group_never_joined_changes_nothing():
    local, socket = Hub(), Socket()
    await local.join("admins", socket)
    await local.leave("user_ana", socket)
    assert local.members == {"admins": {socket}}


async def test_publishing_to_a_group_without_members_is_harmless():
    await Hub().publish("user_nadie", EVENT)


async def test_the_in_memory_layer_relays_nothing():
    assert Hub().relays() is False


async def test_an_event_goes_to_the_handler_named_after_its_type(consumer):
    revoke = {"type": "session.revoke", "jti": "x"}
    await consumer.dispatch(EVENT)
    await consumer.dispatch(revoke)
    assert consumer.handled == [("chat_message", EVENT), ("session_revoke", revoke)]


async def test_an_event_without_a_handler_is_an_error(consumer):
    with pytest.raises(ValueError, match=r"No handler for message type chat\.unknown"):
        await consumer.dispatch({"type": "chat.unknown"})


async def test_events_are_held_until_hub_ready_then_handed_over_in_order(consumer):
    first, second = {**EVENT, "n": 1}, {**EVENT, "n": 2}
    await consumer.join_hub(["user_ana"])
    await hub.publish("user_ana", first)
    await hub.publish("user_ana", second)
    assert consumer.handled == []
    await consumer.hub_ready()
    assert consumer.handled == [("chat_message", first), ("chat_message", second)]


async def test_after_hub_ready_each_event_is_handled_as_it_comes(consumer):
    await consumer.join_hub(["user_ana"])
    await consumer.hub_ready()
    await hub.publish("user_ana", EVENT)
    assert consumer.handled == [("chat_message", EVENT)]


async def test_release_leaves_every_group(consumer):
    await consumer.join_hub(["user_ana", "admins"])
    await consumer.hub_ready()
    await consumer.release()
    await hub.publish("user_ana", EVENT)
    await hub.publish("admins", EVENT)
    assert consumer.handled == []
    assert in_no_group(consumer)


async def test_release_twice_is_harmless(consumer):
    await consumer.join_hub(["user_ana"])
    await consumer.release()
    await consumer.release()
    assert consumer.hub_groups == []


async def test_a_failure_to_leave_is_logged_not_raised(consumer, monkeypatch, caplog):
    async def layer_down(group, member):
        raise ConnectionError("redis is down")

    await consumer.join_hub(["user_ana"])
    with (
        monkeypatch.context() as patched,
        caplog.at_level(logging.ERROR, logger="chat.hub_member"),
    ):
        patched.setattr(hub, "leave", layer_down)
        await consumer.release()
    assert "could not leave the groups ['user_ana']" in caplog.text


async def test_the_receive_loop_releases_when_the_consumer_stops(consumer):
    await consumer.join_hub(["user_ana"])

    async def receive():
        return {"type": "websocket.disconnect", "code": 1000}

    await consumer({"type": "websocket"}, receive, None)
    assert in_no_group(consumer)


async def test_the_receive_loop_releases_when_receiving_fails(consumer):
    await consumer.join_hub(["user_ana"])

    async def receive():
        raise ConnectionResetError("the connection broke")

    with pytest.raises(ConnectionResetError):
        await consumer({"type": "websocket"}, receive, None)
    assert in_no_group(consumer)
