"""Writes: post a message (validate, store, then publish) and mark a thread read.

The consumer calls these, and so can anything else that posts (a view, a
management command): the rules on who may write to whom live only here.
"""

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Coalesce, Greatest
from django.utils.translation import gettext as _

from accounts.models import Role, User
from chat import metrics
from chat.frames import MAX_CLIENT_ID_CHARS, BadFrame, ChatError, encode, message_frame
from chat.groups import ADMINS_GROUP, user_group
from chat.hub import hub
from chat.models import Message, ReadState, Thread

MAX_MESSAGE_CHARS = 4000
RATE_PER_SECOND = 10.0
RATE_BURST = 20

CHAT_MESSAGE_EVENT = "chat.message"
# Past this the channel layer is taken as down: the sender must hear back.
PUBLISH_TIMEOUT_SECONDS = 2.0

logger = logging.getLogger(__name__)


class TokenBucket:
    """Per-socket send limit: ``RATE_PER_SECOND`` sustained, ``RATE_BURST`` at once."""

    __slots__ = ("_tokens", "_updated", "burst", "rate")

    def __init__(self, rate: float = RATE_PER_SECOND, burst: int = RATE_BURST):
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._updated = time.monotonic()

    def take(self) -> bool:
        """Spend one token if there is one; False means the send is refused."""
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


def _clean_text(text: Any) -> str:
    if not isinstance(text, str):
        raise BadFrame(_("'text' must be a string."))
    if not text.strip():
        raise ChatError("empty_text", _("The message is empty."))
    if len(text) > MAX_MESSAGE_CHARS:
        raise ChatError(
            "too_long",
            _("The message is longer than %(max)d characters.")
            % {"max": MAX_MESSAGE_CHARS},
        )
    # A NUL or a lone surrogate would be refused by the database after the
    # client was told nothing; refuse it here, where the client hears why.
    if "\x00" in text:
        raise BadFrame(_("The message must not contain NUL characters."))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise BadFrame(_("The message is not valid Unicode.")) from err
    return text


def _clean_client_id(client_id: Any) -> str | None:
    if client_id is None:
        return None
    if not isinstance(client_id, str) or len(client_id) > MAX_CLIENT_ID_CHARS:
        raise BadFrame(
            _("'client_id' must be a string of at most %(max)d characters.")
            % {"max": MAX_CLIENT_ID_CHARS}
        )
    return client_id


def recipient_thread(*, sender: User, to: Any) -> User:
    """The thread a message from ``sender`` goes into; raise ChatError when not allowed.

    A user writes only into their own thread (and may not name ``to``); an
    admin names the user whose thread they answer, never another admin.
    """
    if sender.role != Role.ADMIN:
        if to is not None:
            raise ChatError(
                "invalid_recipient", _("Users write only to the support team.")
            )
        return sender
    if not isinstance(to, str) or not to:
        raise BadFrame(_("'to' must name the user whose thread you answer."))
    recipient = User.objects.filter(username=to).first()
    if recipient is None:
        raise ChatError(
            "unknown_user", _("There is no user named %(name)s.") % {"name": to}
        )
    if recipient.role == Role.ADMIN:
        raise ChatError(
            "invalid_recipient", _("Admins answer users, not other admins.")
        )
    return recipient


def _thread_touch(thread: User, message: Message) -> None:
    # Greatest: under concurrent posts the summary must keep the newest id,
    # whichever transaction commits last.
    newest = Greatest(Coalesce("last_message_id", 0), Value(message.id))
    if Thread.objects.filter(user=thread).update(last_message_id=newest):
        return
    _, created = Thread.objects.get_or_create(
        user=thread, defaults={"last_message": message}
    )
    if not created:
        Thread.objects.filter(user=thread).update(last_message_id=newest)


def message_store(
    *, sender: User, text: Any, to: Any = None, client_id: Any = None
) -> dict[str, Any]:
    """Validate and store a message; return its ``message`` frame. Raises ChatError."""
    text = _clean_text(text)
    client_id = _clean_client_id(client_id)
    thread = recipient_thread(sender=sender, to=to)
    with transaction.atomic():
        message = Message.objects.create(
            thread=thread,
            sender=sender,
            sender_name=sender.name,
            sender_role=sender.role,
            text=text,
            client_id=client_id,
        )
        _thread_touch(thread, message)
    return message_frame(message)


@dataclass(frozen=True)
class PostedMessage:
    """A stored message: its ``message`` frame, and that frame encoded once."""

    frame: dict[str, Any]
    wire: str


async def message_publish(posted: PostedMessage, *, skip: Any = None) -> None:
    """Deliver a stored message to its thread's user and to the support team.

    The two groups never share a socket (admins have no thread), so each
    socket gets it once. ``skip`` is the sender's socket, which already
    echoed it.
    """
    # stored_at feeds the delivery-latency metric; plain types only (msgpack).
    event = {"type": CHAT_MESSAGE_EVENT, "text": posted.wire, "stored_at": time.time()}
    await hub.publish(user_group(posted.frame["thread"]), event, skip=skip)
    await hub.publish(ADMINS_GROUP, event, skip=skip)


async def amessage_post(
    *,
    sender: User,
    text: Any,
    to: Any = None,
    client_id: Any = None,
    sender_socket: Any = None,
) -> PostedMessage:
    """Store, then publish, a message from async code. Raises ChatError.

    A failed publish (the channel layer down) is logged, not raised: the
    message is stored, the sender's socket echoes it itself, and the other
    sockets get it when they ``resume``.
    """
    frame = await database_sync_to_async(message_store)(
        sender=sender, text=text, to=to, client_id=client_id
    )
    posted = PostedMessage(frame=frame, wire=encode(frame))
    try:
        await asyncio.wait_for(
            message_publish(posted, skip=sender_socket),
            PUBLISH_TIMEOUT_SECONDS,
        )
    except Exception:
        logger.exception("message %s stored but not published", frame["id"])
    else:
        metrics.MESSAGES_POSTED.inc()
    return posted


def message_post(
    *, sender: User, text: Any, to: Any = None, client_id: Any = None
) -> dict[str, Any]:
    """Store, then publish, a message from sync code (views, commands, shell)."""
    frame = message_store(sender=sender, text=text, to=to, client_id=client_id)
    async_to_sync(message_publish)(PostedMessage(frame=frame, wire=encode(frame)))
    metrics.MESSAGES_POSTED.inc()
    return frame


def thread_mark_read(*, reader: User, thread: Any, up_to: int) -> None:
    """Record that ``reader`` has read ``thread`` up to message ``up_to``.

    Users may mark only their own thread; the mark never moves backwards.
    """
    if not isinstance(thread, str) or not thread:
        raise BadFrame(_("'thread' must name a thread."))
    if reader.role != Role.ADMIN and thread != reader.username:
        raise ChatError("forbidden", _("You can only mark your own thread as read."))
    owner_id = User.objects.filter(username=thread).values_list("id", flat=True).first()
    if owner_id is None:
        raise ChatError(
            "unknown_user", _("There is no user named %(name)s.") % {"name": thread}
        )
    updated = ReadState.objects.filter(reader=reader, thread_id=owner_id).update(
        last_read_id=Greatest("last_read_id", up_to)
    )
    if not updated:
        ReadState.objects.get_or_create(
            reader=reader, thread_id=owner_id, defaults={"last_read_id": up_to}
        )
