"""Per-process fan-out of chat events to the sockets open in this process.

The channel layer's way, one queue and one consumer wake-up per socket per
message, is what made the tutorial-shaped chat slow (80-400 messages/s on
one core, measured). Here a
process keeps its own registry of open sockets by group and hands an event
to each of them directly, in one pass. Other processes are reached through
the channel layer with one relay message per group, received once per
process by a single relay task; a process ignores its own relays, so every
socket still gets every event exactly once. With the in-memory layer there
is only one process and nothing is relayed.
"""

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.layers import InMemoryChannelLayer, get_channel_layer

from chat import metrics

logger = logging.getLogger(__name__)

RELAY_EVENT = "hub.relay"
RELAY_RETRY_MAX_SECONDS = 2.0
# Past this the channel layer is taken as down for that relay.
RELAY_SEND_TIMEOUT_SECONDS = 2.0


class Member(Protocol):
    async def hub_event(self, event: dict[str, Any]) -> None: ...


class Hub:
    """The sockets of this process by group, and the relay to other processes."""

    def __init__(self):
        self.origin = uuid.uuid4().hex
        self.members: dict[str, set[Member]] = {}
        self._layer = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._relay_channel: str | None = None
        self._relay_ready: asyncio.Future | None = None
        self._relay_task: asyncio.Task | None = None
        self._relayed_groups: set[str] = set()
        self._relay_queue: deque[tuple[str, dict[str, Any]]] = deque()
        self._relay_sender: asyncio.Task | None = None
        self._reconnect_callbacks: list[Callable[[], None]] = []

    def on_reconnect(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` whenever the relay gets through again after a failure
        (events published meanwhile by other processes were lost)."""
        self._reconnect_callbacks.append(callback)

    def _current_layer(self):
        """The layer to relay through, or None when this process is alone."""
        layer = get_channel_layer()
        loop = asyncio.get_running_loop()
        if layer is not self._layer or loop is not self._loop:
            # A new layer (settings changed) or a new event loop (tests):
            # the old relay belongs to a world that is gone.
            if self._relay_task is not None and not self._relay_task.done():
                self._relay_task.cancel()
            self._layer, self._loop = layer, loop
            self._relay_channel = self._relay_task = self._relay_ready = None
            self._relayed_groups = set()
            self._relay_queue.clear()
            self._relay_sender = None
        if layer is None or isinstance(layer, InMemoryChannelLayer):
            return None
        return layer

    def relays(self) -> bool:
        """True when other processes may publish to our groups (a shared layer)."""
        return self._current_layer() is not None

    async def join(self, group: str, member: Member) -> None:
        """Add a socket to ``group``; the first one subscribes the process."""
        members = self.members.setdefault(group, set())
        members.add(member)
        layer = self._current_layer()
        if layer is not None and group not in self._relayed_groups:
            await self._relay_join(layer, group)

    async def leave(self, group: str, member: Member) -> None:
        """Remove a socket from ``group``; the last one unsubscribes the process."""
        members = self.members.get(group)
        if members is None:
            return
        members.discard(member)
        if members:
            return
        del self.members[group]
        layer = self._current_layer()
        if layer is not None and group in self._relayed_groups:
            self._relayed_groups.discard(group)
            await layer.group_discard(group, self._relay_channel)

    async def publish(
        self, group: str, event: dict[str, Any], *, wait: bool = True
    ) -> None:
        """Hand ``event`` to every socket of ``group`` here and in other processes.

        Local delivery happens first, so a channel layer that is down delays
        no socket of this process. With ``wait`` the relay to other
        processes is awaited and its failure raised; without, it is queued
        behind earlier relays (their order is kept) and a failure is logged.
        """
        layer = self._current_layer()
        if layer is None:
            await self.deliver_locally(group, event)
            return
        # A copy goes to other processes: local sockets may cache what they
        # derive from the event in the event itself (frames.joined_texts).
        relay = {
            "type": RELAY_EVENT,
            "origin": self.origin,
            "group": group,
            "event": dict(event),
        }
        await self.deliver_locally(group, event)
        if wait:
            await layer.group_send(group, relay)
            return
        self._relay_queue.append((group, relay))
        if self._relay_sender is None or self._relay_sender.done():
            self._relay_sender = asyncio.ensure_future(self._send_relays(layer))

    async def _send_relays(self, layer) -> None:
        """Send queued relays one at a time, in order, each within a time limit."""
        while self._relay_queue:
            group, relay = self._relay_queue.popleft()
            try:
                await asyncio.wait_for(
                    layer.group_send(group, relay), RELAY_SEND_TIMEOUT_SECONDS
                )
            except Exception as err:  # noqa: BLE001 (the layer being down is an outcome)
                # One line, no traceback: during an outage there are many.
                # The messages are stored; other processes' sockets get
                # them when they resume.
                logger.warning(
                    "relay to %s not sent (%s: %s)", group, type(err).__name__, err
                )

    async def deliver_locally(self, group: str, event: dict[str, Any]) -> int:
        """Hand ``event`` to this process's sockets in ``group``; return how many."""
        delivered = 0
        for member in tuple(self.members.get(group, ())):
            try:
                await member.hub_event(event)
            except Exception:
                # One broken socket must not cost the others their message.
                logger.exception("delivery to a socket of %s failed", group)
            else:
                delivered += 1
        stored_at = event.get("stored_at")
        if delivered and stored_at is not None:
            # Once per fan-out, not per socket: the metric stays off the
            # per-frame path.
            metrics.MESSAGES_DELIVERED.inc(delivered * len(event.get("texts", ())))
            metrics.DELIVERY_LATENCY.observe(time.time() - stored_at)
        return delivered

    async def _relay_join(self, layer, group: str) -> None:
        # Marked before any await, so concurrent first joins subscribe once.
        self._relayed_groups.add(group)
        try:
            if self._relay_ready is None:
                self._relay_ready = asyncio.ensure_future(self._start_relay(layer))
            await self._relay_ready
            await layer.group_add(group, self._relay_channel)
        except Exception:
            self._relayed_groups.discard(group)
            ready = self._relay_ready
            if ready is not None and ready.done() and ready.exception() is not None:
                self._relay_ready = None  # the next join tries again
            raise

    async def _start_relay(self, layer) -> None:
        self._relay_channel = await layer.new_channel()
        self._relay_task = asyncio.ensure_future(self._relay_loop(layer))

    async def _relay_loop(self, layer) -> None:
        """Receive other processes' relays and deliver them here, forever."""
        delay = 0.1
        while True:
            try:
                message = await layer.receive(self._relay_channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("relay receive failed; retrying")
                await asyncio.sleep(delay)
                delay = min(delay * 2, RELAY_RETRY_MAX_SECONDS)
                await self._rejoin(layer)
                continue
            delay = 0.1
            if message.get("origin") == self.origin:
                continue
            await self.deliver_locally(message["group"], message["event"])

    async def _rejoin(self, layer) -> None:
        # A restarted Redis (core layer) has forgotten the group members.
        try:
            for group in tuple(self._relayed_groups):
                await layer.group_add(group, self._relay_channel)
        except Exception as err:  # noqa: BLE001 (the loop retries)
            logger.warning("channel layer still unavailable: %s", err)
            return
        for callback in self._reconnect_callbacks:
            callback()


hub = Hub()


class HubMember:
    """The hub's side of a consumer: events come through :data:`hub`, not a queue.

    A mixin for Channels' ``AsyncConsumer``: a plain receive loop instead of
    ``await_many_dispatch`` (no second task per socket, as no channel-layer
    queue of its own is read); dispatch without ``aclose_old_connections()``
    (a worker-thread round trip per event, while all the chat's database
    work goes through chat.dbthread); group membership held until the
    consumer is ready (its first frame goes first); and an event handed to
    the handler named after its type (``chat.message`` -> ``chat_message``).
    However the socket ends, :meth:`release` runs.
    """

    hub_groups: list[str] = []
    held_events: list | None = None

    async def __call__(self, scope, receive, send):
        self.scope = scope
        self.base_send = send
        try:
            with contextlib.suppress(StopConsumer):
                while True:
                    await self.dispatch(await receive())
        finally:
            # A dead socket left registered would be "delivered" to forever.
            await self.release()

    async def dispatch(self, message):
        name = _handler_names.get(message["type"])
        if name is None:
            name = _handler_names[message["type"]] = get_handler_name(message)
        handler = getattr(self, name, None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def join_hub(self, groups: list[str]) -> None:
        """Join ``groups``; their events wait until :meth:`hub_ready`."""
        self.held_events = []
        self.hub_groups = list(groups)
        for group in self.hub_groups:
            await hub.join(group, self)

    async def hub_ready(self) -> None:
        """Hand over the events that arrived meanwhile, then each as it comes."""
        held, self.held_events = self.held_events, None
        for event in held or ():
            await self.dispatch(event)

    async def hub_event(self, event: dict[str, Any]) -> None:
        """An event for one of our groups, from this process or another."""
        if self.held_events is not None:
            self.held_events.append(event)
            return
        await self.dispatch(event)

    async def release(self) -> None:
        """Leave the hub's groups; safe to call more than once."""
        groups, self.hub_groups = self.hub_groups, []
        try:
            for group in groups:
                await hub.leave(group, self)
        except Exception:
            # Redis is down: its group entries expire by themselves, and
            # sends to this dead channel only fill a capped queue.
            logger.exception("could not leave the groups %s", groups)


# Event type -> handler name, worked out once per type, not once per delivery.
_handler_names: dict[str, str] = {}
