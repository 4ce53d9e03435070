"""The chat socket: parse a frame, call a service, answer (PROTOCOL.md 3.2-3.4)."""

import contextlib
import logging
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import DatabaseError
from django.utils import translation
from django.utils.translation import gettext as _

from accounts import tokens
from accounts.models import Role
from chat import frames, metrics, selectors, services
from chat import limits as limits_module
from chat.dbthread import db_call, db_read
from chat.frames import (
    CLOSE_FRAME_TOO_LARGE,
    CLOSE_SERVICE_UNAVAILABLE,
    CLOSE_SESSION_EXPIRED,
    CLOSE_SESSION_REVOKED,
    CLOSE_TOO_MANY_CONNECTIONS,
    BadFrame,
    ChatError,
)
from chat.groups import ADMINS_GROUP, user_group
from chat.hub import hub
from chat.language import scope_language
from chat.limits import limits
from chat.sessions import (
    SESSION_REVOKE_EVENT,
    SessionClock,
    catch_up,
    revocation_applies,
    revocation_mark,
)
from chatproject.isotime import iso_utc

logger = logging.getLogger(__name__)

COALESCE_PARAMETER = "coalesce"


def wants_coalescing(scope) -> bool:
    """True when the client connected with ``?coalesce=1`` (docs/api.md).

    Such a socket may get several messages in one ``messages`` frame; any
    other socket gets one ``message`` frame per message, as PROTOCOL.md says.
    """
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return query.get(COALESCE_PARAMETER, [""])[-1] in ("1", "true")


# The frames one fan-out event is joined into, kept for the event's other
# coalescing sockets: every socket of a group gets the same event object in
# one pass (chat.hub), so one entry is enough.
_joined_cache: tuple[list[str] | None, list[str]] = (None, [])


def _joined_frames(texts: list[str]) -> list[str]:
    global _joined_cache
    cached_texts, joined = _joined_cache
    if cached_texts is not texts:
        joined = frames.messages_frames(texts)
        _joined_cache = (texts, joined)
    return joined


class ChatConsumer(AsyncWebsocketConsumer):
    """One signed-in socket. ``scope["user"]`` was set by ``chat.middleware``."""

    clock: SessionClock | None = None
    closing_code: int | None = None
    held_events: list | None = None
    groups_joined: list[str] = []
    counted_open = False
    holds_slot = False
    coalesce = False

    async def __call__(self, scope, receive, send):
        # A plain receive loop: chat events reach this socket through the
        # process's hub (chat.hub), not through a channel-layer queue of its
        # own, so there is no second task per socket to wait on.
        self.scope = scope
        self.base_send = send
        try:
            with contextlib.suppress(StopConsumer):
                while True:
                    await self.dispatch(await receive())
        finally:
            # However the socket ends (a close, a server error, a cancelled
            # task), it leaves the hub, its groups, the gauge and its slot:
            # a dead socket left registered would be "delivered" to forever.
            await self.release()

    async def dispatch(self, message):
        # Channels' dispatch sends every event through
        # aclose_old_connections(), a worker-thread round trip per delivered
        # message. Our database work all goes through chat.dbthread, which
        # looks after its own connection, so the hot path skips it.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self):
        self.user = self.scope["user"]
        self.token = self.scope["token"]
        # Error texts in the page's language (services use gettext). This
        # socket is one task with its own context, so activating once holds
        # for its whole life.
        translation.activate(scope_language(self.scope))
        self.coalesce = wants_coalescing(self.scope)
        await self.accept()
        if not await limits.take_socket(self.user.pk):
            await self.close_with(CLOSE_TOO_MANY_CONNECTIONS)
            return
        self.holds_slot = True
        self.groups_joined = [user_group(self.user.username)]
        if self.user.role == Role.ADMIN:
            self.groups_joined.append(ADMINS_GROUP)
        catch_up.watch()
        # Events that arrive between joining the groups and `hello` wait
        # here: `hello` is always the first frame.
        self.held_events = []
        try:
            for group in self.groups_joined:
                await hub.join(group, self)
            still_valid = await self.token_still_valid()
        except Exception:
            logger.exception("cannot open a chat session for %s", self.user.username)
            await self.close_with(CLOSE_SERVICE_UNAVAILABLE)
            return
        if not still_valid:
            await self.close_with(CLOSE_SESSION_REVOKED)
            return
        metrics.OPEN_SOCKETS.inc()
        self.counted_open = True
        hello = {
            "type": "hello",
            "user": self.user.username,
            "name": self.user.name,
            "rol": self.user.role,
            "expires_at": iso_utc(self.token.expires_at),
        }
        if self.coalesce:
            hello["coalesce"] = True
        await self.send_frame(hello)
        self.clock = SessionClock(
            self.token.expires_at.timestamp(), self.warn_expiry, self.expire
        )
        self.clock.start()
        held, self.held_events = self.held_events, None
        for event in held:
            await self.hub_event(event)

    async def token_still_valid(self) -> bool:
        # A revocation published between the middleware's check and our
        # joining the user's group would never reach this socket. In one
        # process alone every revocation is published here, so an unchanged
        # mark proves none was; with other processes (a relaying layer) the
        # token is checked once more now that any later one will reach us.
        if not hub.relays() and revocation_mark() == self.scope["revocation_mark"]:
            return True
        try:
            await db_read(tokens.reverify, self.token)
        except tokens.InvalidToken:
            return False
        return True

    async def disconnect(self, code):
        await self.release()

    async def release(self):
        """Let go of everything the socket holds; safe to call more than once."""
        if self.clock is not None:
            self.clock.cancel()
        if self.counted_open:
            self.counted_open = False
            metrics.OPEN_SOCKETS.dec()
        groups, self.groups_joined = self.groups_joined, []
        try:
            for group in groups:
                await hub.leave(group, self)
        except Exception:
            # Redis is down: its group entries expire by themselves, and
            # sends to this dead channel only fill a capped queue.
            logger.exception("could not leave the groups of %s", self.user.username)
        catch_up.stop_when_idle()
        if self.holds_slot:
            self.holds_slot = False
            await limits.give_socket(self.user.pk)

    async def receive(self, text_data=None, bytes_data=None):
        if text_data is None:
            if len(bytes_data or b"") > frames.MAX_FRAME_BYTES:
                await self.close_with(CLOSE_FRAME_TOO_LARGE)
                return
            await self.send_error(
                BadFrame(_("Binary frames are not accepted; send JSON text."))
            )
            return
        if frames.frame_too_large(text_data):
            await self.close_with(CLOSE_FRAME_TOO_LARGE)
            return
        frame = None
        try:
            # Decoded first, so that even a refusal of the type echoes the
            # frame's client_id.
            frame = frames.decode(text_data)
            handler = getattr(self, f"on_{frames.require_known_type(frame)}")
            await handler(frame)
        except ChatError as err:
            await self.send_error(err, frames.client_id_of(frame))
        except DatabaseError:
            logger.exception("database unavailable for %s", self.user.username)
            await self.send_error(
                ChatError(
                    "unavailable",
                    _("The service is briefly unavailable; send again in a moment."),
                ),
                frames.client_id_of(frame),
            )
        except Exception:
            # A bug, not the client's fault: the socket answers and lives on.
            logger.exception("frame from %s failed", self.user.username)
            await self.send_error(
                ChatError("server_error", _("Something went wrong on our side.")),
                frames.client_id_of(frame),
            )

    async def on_send(self, frame):
        if not await limits.allow(limits_module.SEND, self.user.pk):
            raise ChatError(
                "rate_limited", _("Too many messages; slow down and send again.")
            )
        # The echo (the ack) reaches this socket with the fan-out, which is
        # local to this process: the sender hears back even when the
        # channel layer is down. Refusals are raised here.
        await services.amessage_post(
            sender=self.user,
            text=frame.get("text"),
            to=frame.get("to"),
            client_id=frame.get("client_id"),
        )

    async def on_resume(self, frame):
        after = frames.require_id(frame, "after")
        if not await limits.allow(limits_module.RESUME, self.user.pk):
            raise ChatError(
                "rate_limited", _("Too many resumes; wait a moment and resume again.")
            )
        messages, has_more = await db_read(
            selectors.messages_visible_after, viewer=self.user, after=after
        )
        for message in messages:
            await self.send_frame(message)
        last_id = messages[-1]["id"] if messages else after
        await self.send_frame(
            {"type": "resumed", "last_id": last_id, "has_more": has_more}
        )

    async def on_read(self, frame):
        up_to = frames.require_id(frame, "up_to")
        if not await limits.allow(limits_module.SIGNALS, self.user.pk):
            return  # PROTOCOL.md 3.2: dropped without a word
        await db_call(
            services.thread_mark_read,
            reader=self.user,
            thread=frame.get("thread"),
            up_to=up_to,
        )

    async def warn_expiry(self):
        await self.send_frame(
            {"type": "session.expiring", "expires_at": iso_utc(self.token.expires_at)}
        )

    async def expire(self):
        await self.close_with(CLOSE_SESSION_EXPIRED)

    async def hub_event(self, event):
        """An event for one of our groups, from this process or another (chat.hub)."""
        if self.held_events is not None:
            self.held_events.append(event)
            return
        if event["type"] == services.CHAT_MESSAGE_EVENT:
            # The hot path: straight to the server, each message encoded once
            # for all sockets.
            if self.closing_code is not None:
                return
            texts = event["texts"]
            if self.coalesce and len(texts) > 1:
                texts = _joined_frames(texts)
            for text in texts:
                await self.base_send({"type": "websocket.send", "text": text})
        elif event["type"] == SESSION_REVOKE_EVENT and revocation_applies(
            event, self.token
        ):
            await self.close_with(CLOSE_SESSION_REVOKED)

    async def send(self, text_data=None, bytes_data=None, close=False):
        # Once the closing frame is out, nothing else may follow it.
        if self.closing_code is None:
            await super().send(text_data=text_data, bytes_data=bytes_data, close=close)

    async def send_frame(self, frame):
        await self.send(text_data=frames.encode(frame))

    async def send_error(self, err: ChatError, client_id: str | None = None):
        metrics.ERRORS.labels(err.code).inc()
        await self.send(text_data=frames.error_frame(err, client_id))

    async def close_with(self, code: int):
        """Tell the client why in a ``closing`` frame, then close with ``code``."""
        if self.closing_code is not None:
            return
        if self.clock is not None:
            self.clock.cancel()
        await self.send(text_data=frames.closing_frame(code))
        self.closing_code = code
        await self.close(code=code, reason=frames.CLOSE_REASONS[code])
