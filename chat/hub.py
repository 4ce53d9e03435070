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
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from channels.layers import InMemoryChannelLayer, get_channel_layer

from chat import eager, metrics
from chatproject.websocket.prepared import PreparedText

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
        # Sockets whose delivery is waiting for room, and what came for them
        # meanwhile, in order; and the tasks that deliver it (held: the loop
        # keeps only weak references).
        self._behind: dict[Member, list[dict[str, Any]]] = {}
        self._catching_up: set[asyncio.Task] = set()

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
        """Hand ``event`` to this process's sockets in ``group``; return how many.

        Never waits for one socket (chat.eager): a socket whose delivery
        must wait gets it, and its later events in order, in a task of its
        own while the others go on.
        """
        delivered = 0
        for member in tuple(self.members.get(group, ())):
            behind = self._behind.get(member)
            if behind is not None:
                behind.append(event)
                delivered += 1
                continue
            try:
                coro = member.hub_event(event)
                suspended = eager.start(coro)
            except Exception:
                # One broken socket must not cost the others their message.
                logger.exception("delivery to a socket of %s failed", group)
                continue
            delivered += 1
            if suspended is not None:
                self._behind[member] = []
                task = asyncio.ensure_future(
                    self._catch_up(member, coro, suspended, group)
                )
                self._catching_up.add(task)
                task.add_done_callback(self._catching_up.discard)
        stored_at = event.get("stored_at")
        if delivered and stored_at is not None:
            # Once per fan-out, not per socket: the metric stays off the
            # per-frame path.
            metrics.MESSAGES_DELIVERED.inc(delivered * len(event.get("texts", ())))
            metrics.DELIVERY_LATENCY.observe(time.time() - stored_at)
        return delivered

    async def _catch_up(self, member: Member, coro, suspended, group: str) -> None:
        """Finish a delivery that had to wait, then the events queued behind it."""
        try:
            await eager.carry_on(coro, suspended)
            behind = self._behind[member]
            while behind:
                await member.hub_event(behind.pop(0))
        except Exception:
            # Its socket is gone or stuck past its server's patience: what
            # was queued for it goes with it (it resumes when it reconnects).
            logger.exception("delivery to a socket of %s failed", group)
        finally:
            del self._behind[member]

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
            await self.deliver_locally(message["group"], _prepared(message["event"]))

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


def _prepared(event: dict[str, Any]) -> dict[str, Any]:
    """An event from another process with its frame texts made shareable again
    (the channel layer hands them over as plain ``str``): framed once for
    this process's sockets, as the publishing process frames its own."""
    if "texts" in event:
        event["texts"] = [PreparedText(text) for text in event["texts"]]
    if isinstance(event.get("text"), str):
        event["text"] = PreparedText(event["text"])
    return event


hub = Hub()
