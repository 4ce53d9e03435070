"""The chat socket: parse a frame, call a service, answer (PROTOCOL.md 3.2-3.4).

Client frames reach ``on_<type>`` (``chat.client_frames``); events from the
hub reach the handler named after their type (``chat.message`` ->
``chat_message``). How events reach a socket at all is
``chat.hub_member.HubMember``'s business.
"""

import logging
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import DatabaseError
from django.utils import translation
from django.utils.translation import gettext as _

from chat import frames, metrics
from chat.client_frames import ClientFrames
from chat.frames import (
    CLOSE_FRAME_TOO_LARGE,
    CLOSE_IDLE,
    CLOSE_SERVICE_UNAVAILABLE,
    CLOSE_SESSION_EXPIRED,
    CLOSE_SESSION_REVOKED,
    CLOSE_TOO_MANY_CONNECTIONS,
    BadFrame,
    ChatError,
)
from chat.groups import ADMINS_GROUP, user_group
from chat.hub_member import HubMember
from chat.idle import idle_sweep
from chat.language import scope_language
from chat.presence import presence
from chat.sessions import (
    SessionClock,
    catch_up,
    revocation_applies,
    still_valid_after_joining,
)
from chat.socket_counts import socket_counts
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


class ChatConsumer(ClientFrames, HubMember, AsyncWebsocketConsumer):
    """One signed-in socket. ``scope["user"]`` was set by ``chat.middleware``."""

    clock: SessionClock | None = None
    closing_code: int | None = None
    counted_open = False
    holds_slot = False
    coalesce = False
    told_presence = False
    heard_round = 0

    async def connect(self):
        """Accept, take a slot, join the groups, then ``hello`` (PROTOCOL.md 3.1)."""
        self.user = self.scope["user"]
        self.token = self.scope["token"]
        # Error texts in the page's language (services use gettext). This
        # socket is one task with its own context, so activating once holds
        # for its whole life.
        translation.activate(scope_language(self.scope))
        self.coalesce = wants_coalescing(self.scope)
        await self.accept()
        if not await socket_counts.take(self.user.pk):
            await self.close_with(CLOSE_TOO_MANY_CONNECTIONS)
            return
        self.holds_slot = True
        groups = [user_group(self.user.username)]
        if self.user.is_support_admin:
            groups.append(ADMINS_GROUP)
        catch_up.watch()
        try:
            await self.join_hub(groups)
            still_valid = await still_valid_after_joining(self.scope)
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
        self.heard_round = idle_sweep.round
        idle_sweep.watch()
        try:
            await presence.socket_opened(self)
            self.told_presence = True
        except Exception:
            # A hint, not the chat: the socket works without it, and the
            # next change or sweep reaches it.
            logger.exception("no presence for %s", self.user.username)
        self.clock = SessionClock(
            self.token.expires_at.timestamp(), self.warn_expiry, self.expire
        )
        self.clock.start()
        await self.hub_ready()

    async def disconnect(self, code):
        """The client went away."""
        await self.release()

    async def release(self):
        """Let go of everything the socket holds; safe to call more than once."""
        if self.clock is not None:
            self.clock.cancel()
        if self.counted_open:
            self.counted_open = False
            metrics.OPEN_SOCKETS.dec()
        await super().release()
        if self.holds_slot:
            self.holds_slot = False
            await socket_counts.give(self.user.pk)
        if self.told_presence:
            # After the count was given back: presence reads it.
            self.told_presence = False
            try:
                await presence.socket_closed(self)
            except Exception:
                logger.exception("presence not updated for %s", self.user.username)
        catch_up.stop_when_idle()
        idle_sweep.stop_when_idle()

    async def receive(self, text_data=None, bytes_data=None):
        """A client frame: to ``on_<type>``; every refusal is an ``error`` frame."""
        self.heard_round = idle_sweep.round
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

    async def warn_expiry(self):
        """The token expires within a minute: ``session.expiring``."""
        await self.send_frame(
            {"type": "session.expiring", "expires_at": iso_utc(self.token.expires_at)}
        )

    async def expire(self):
        """The token expired: close 4004."""
        await self.close_with(CLOSE_SESSION_EXPIRED)

    async def chat_message(self, event):
        """Stored messages for this socket: the hot path, straight to the server,
        each message encoded once for all sockets."""
        if self.closing_code is not None:
            return
        texts = event["texts"]
        if self.coalesce and len(texts) > 1:
            texts = frames.joined_texts(event)
        for text in texts:
            await self.base_send({"type": "websocket.send", "text": text})

    async def typing_signal(self, event):
        """Someone is typing; never echoed to the typist's own sockets."""
        if event["from"] != self.user.username:
            await self.presence_signal(event["text"])

    async def presence_signal(self, text: str):
        """A frame encoded once for every socket it concerns, passed on as it is:
        the team's presence (chat.presence) and, below, events that carry one."""
        if self.closing_code is None:
            await self.base_send({"type": "websocket.send", "text": text})

    async def seen_signal(self, event):
        """A read mark moved forward."""
        await self.presence_signal(event["text"])

    async def conversation_update(self, event):
        """A conversation's status or assignee changed (admin sockets only)."""
        await self.presence_signal(event["text"])

    async def close_idle(self):
        """Nothing came for SOCKET_IDLE_SECONDS (chat.idle): close 4010."""
        await self.close_with(CLOSE_IDLE)

    async def session_revoke(self, event):
        """Sessions ended (chat.sessions): close if this socket's token is one."""
        if revocation_applies(event, self.token):
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
