"""What each client frame does (PROTOCOL.md 3.2, 5): ``on_<type>`` of the chat
socket, which ``ChatConsumer.receive`` calls once the frame is decoded.

Each checks the sender's rate where the protocol has one and hands the
frame to the service that owns it; a refusal is raised as ``ChatError`` and
answered by ``receive`` as an ``error`` frame.
"""

from django.utils.translation import gettext as _

from accounts.models import Availability
from chat import frames, limits, livesignals, selectors, services
from chat.dbthread import db_call, db_read
from chat.frames import BadFrame, ChatError
from chat.presence import presence


class ClientFrames:
    """A mixin of ``chat.consumers.ChatConsumer``: its ``user`` and ``send_frame``."""

    async def on_send(self, frame):
        """``send``: post into a thread (PROTOCOL.md 3.2); the echo is the ack."""
        if not await limits.limits.allow(limits.SEND, self.user.pk):
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
            note=frame.get("note"),
        )

    async def on_resume(self, frame):
        """``resume``: replay what this socket may see after an id, then ``resumed``."""
        after = frames.require_id(frame, "after")
        if not await limits.limits.allow(limits.RESUME, self.user.pk):
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
        """``read``: move the caller's read mark forward."""
        up_to = frames.require_id(frame, "up_to")
        if not await limits.limits.allow(limits.SIGNALS, self.user.pk):
            return  # PROTOCOL.md 3.2: dropped without a word
        seen = await db_call(
            services.thread_mark_read,
            reader=self.user,
            thread=frame.get("thread"),
            up_to=up_to,
        )
        if seen is not None:
            await livesignals.seen_publish(seen)

    async def on_typing(self, frame):
        """``typing``: "I am typing now", passed on, not stored (PROTOCOL.md 5.1)."""
        typing = livesignals.typing_frame(self.user, frame)
        if not await limits.limits.allow(limits.SIGNALS, self.user.pk):
            return  # dropped without a word, as read frames are
        await livesignals.typing_publish(self.user, typing)

    async def on_availability(self, frame):
        """``availability``: an admin is available or away (PROTOCOL.md 5.2)."""
        status = frame.get("status")
        if status not in (Availability.ONLINE, Availability.AWAY):
            raise BadFrame(_('\'status\' must be "online" or "away".'))
        if not self.user.is_support_admin:
            raise ChatError(
                "forbidden", _("Only the support team has an availability.")
            )
        if not await limits.limits.allow(limits.SIGNALS, self.user.pk):
            return  # dropped without a word, as read and typing frames are
        await presence.availability_set(self.user, status)

    async def on_ping(self, frame):
        """``ping``: answered ``pong``, for clients that check the link is alive."""
        await self.send_frame({"type": "pong"})
