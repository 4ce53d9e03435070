"""Writes: post a message (validate, store, then publish) and mark a thread read.

The consumer calls these, and so can anything else that posts (a view, a
management command): the rules on who may write to whom live only here.
"""

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asgiref.sync import async_to_sync
from django.db import connection, transaction
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Role, User
from chat import metrics
from chat.frames import MAX_CLIENT_ID_CHARS, BadFrame, ChatError, encode, message_frame
from chat.groups import ADMINS_GROUP, user_group
from chat.hub import hub
from chat.models import Message, ReadState, Thread
from chat.writer import BatchWriter

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


@dataclass(frozen=True)
class Draft:
    """A message that passed every check that needs no database."""

    sender: User
    text: str
    client_id: str | None
    to: str | None
    created_at: datetime


def message_draft(
    *, sender: User, text: Any, to: Any = None, client_id: Any = None
) -> Draft:
    """Check text, client id and the recipient's shape, no database. Raises ChatError.

    A user writes only into their own thread (and may not name ``to``); an
    admin names the user whose thread they answer.
    """
    text = _clean_text(text)
    client_id = _clean_client_id(client_id)
    if sender.role != Role.ADMIN:
        if to is not None:
            raise ChatError(
                "invalid_recipient", _("Users write only to the support team.")
            )
    elif not isinstance(to, str) or not to:
        raise BadFrame(_("'to' must name the user whose thread you answer."))
    return Draft(
        sender=sender,
        text=text,
        client_id=client_id,
        to=to if sender.role == Role.ADMIN else None,
        created_at=timezone.now(),
    )


def _recipients(drafts: list[Draft]) -> dict[str, User]:
    names = {draft.to for draft in drafts if draft.to is not None}
    if not names:
        return {}
    return {user.username: user for user in User.objects.filter(username__in=names)}


def _thread_of(draft: Draft, recipients: dict[str, User]) -> User:
    # Lazy texts: a batch mixes senders of several languages, and each
    # refusal is put into words in its own sender's context.
    if draft.to is None:
        return draft.sender
    recipient = recipients.get(draft.to)
    if recipient is None:
        raise ChatError(
            "unknown_user",
            format_lazy(gettext_lazy("There is no user named {name}."), name=draft.to),
        )
    if recipient.role == Role.ADMIN:
        raise ChatError(
            "invalid_recipient", gettext_lazy("Admins answer users, not other admins.")
        )
    return recipient


def _threads_touch(newest_by_thread: dict[int, int]) -> None:
    # One upsert per thread; the condition keeps the newest id whichever
    # transaction commits last (several processes on PostgreSQL).
    table = connection.ops.quote_name(Thread._meta.db_table)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} (user_id, last_message_id) VALUES (%s, %s) "  # noqa: S608 (table name from the model)
            f"ON CONFLICT (user_id) DO UPDATE SET last_message_id = "
            f"excluded.last_message_id WHERE {table}.last_message_id IS NULL "
            f"OR {table}.last_message_id < excluded.last_message_id",
            list(newest_by_thread.items()),
        )


def _insert_messages(messages: list[Message]) -> None:
    """One multi-row INSERT ... RETURNING for a batch; sets each message's id.

    Raw SQL because the ORM's bulk_create spent more time compiling the
    statement than the database spent running it (py-spy, this hot path).
    The values go through each field's own database preparation, as the
    ORM would do.
    """
    fields = [field for field in Message._meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = (
        f"INSERT INTO {quote(Message._meta.db_table)} "  # noqa: S608 (names from the model)
        f"({', '.join(quote(field.column) for field in fields)}) "
        f"VALUES {', '.join([row] * len(messages))} RETURNING {quote('id')}"
    )
    params = [
        field.get_db_prep_save(getattr(message, field.attname), connection)
        for message in messages
        for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = [row_id for (row_id,) in cursor.fetchall()]
    # Ids are handed out in row order within one statement; sorting makes
    # that independent of the order RETURNING lists them in.
    for message, message_id in zip(messages, sorted(ids), strict=True):
        message.id = message_id


def messages_store(drafts: list[Draft]) -> list[dict[str, Any] | ChatError]:
    """Store drafts in one transaction; for each, its ``message`` frame or its refusal.

    One recipient query, one multi-row insert and one upsert per thread, so
    a batch costs little more than a single message.
    """
    recipients = _recipients(drafts)
    outcomes: list[Message | ChatError] = []
    for draft in drafts:
        try:
            thread = _thread_of(draft, recipients)
        except ChatError as err:
            outcomes.append(err)
            continue
        outcomes.append(
            Message(
                thread=thread,
                sender=draft.sender,
                sender_name=draft.sender.name,
                sender_role=draft.sender.role,
                text=draft.text,
                client_id=draft.client_id,
                created_at=draft.created_at,
            )
        )
    messages = [outcome for outcome in outcomes if isinstance(outcome, Message)]
    if messages:
        with transaction.atomic():
            _insert_messages(messages)
            newest: dict[int, int] = {}
            for message in messages:
                newest[message.thread_id] = max(
                    message.id, newest.get(message.thread_id, 0)
                )
            _threads_touch(newest)
    return [
        message_frame(outcome) if isinstance(outcome, Message) else outcome
        for outcome in outcomes
    ]


def message_store(
    *, sender: User, text: Any, to: Any = None, client_id: Any = None
) -> dict[str, Any]:
    """Validate and store one message; return its frame. Raises ChatError."""
    draft = message_draft(sender=sender, text=text, to=to, client_id=client_id)
    [outcome] = messages_store([draft])
    if isinstance(outcome, ChatError):
        raise outcome
    return outcome


message_writer = BatchWriter(messages_store)


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
    draft = message_draft(sender=sender, text=text, to=to, client_id=client_id)
    frame = await message_writer.store(draft)
    posted = PostedMessage(frame=frame, wire=encode(frame))
    try:
        await asyncio.wait_for(
            message_publish(posted, skip=sender_socket),
            PUBLISH_TIMEOUT_SECONDS,
        )
    except Exception as err:  # noqa: BLE001 (the layer being down is an outcome)
        # One line per message, no traceback: during an outage there are many.
        logger.warning(
            "message %s stored but not published (%s: %s)",
            frame["id"],
            type(err).__name__,
            err,
        )
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
