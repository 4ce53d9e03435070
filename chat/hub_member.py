"""The consumer's side of the hub (``chat.hub``): a socket that joins groups
and gets their events handed to it directly, not through a channel-layer
queue of its own."""

import contextlib
import logging
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer

from chat.hub import hub

logger = logging.getLogger(__name__)


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
