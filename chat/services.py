"""Writes: post a message (validate, store, then publish) and mark a thread read.

The consumer calls these, and so can anything else that posts (a view, a
management command): the rules on who may write to whom live only here.
"""

import functools
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.db import connection, connections, transaction
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Role, User
from chat import loopdb, metrics
from chat.frames import (
    MAX_CLIENT_ID_CHARS,
    BadFrame,
    ChatError,
    encode,
    message_frame_of,
)
from chat.groups import ADMINS_GROUP, user_group
from chat.hub import hub
from chat.models import Message, ReadState, Thread
from chat.writer import BatchWriter
from chatproject.isotime import iso_utc

MAX_MESSAGE_CHARS = 4000

CHAT_MESSAGE_EVENT = "chat.message"

logger = logging.getLogger(__name__)


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
    )


class _Statements:
    """The hot path's SQL, written once per statement shape.

    Built on first use (the database vendor is known by then) and kept:
    quoting names and joining placeholders for every batch showed up in the
    profile.
    """

    def __init__(self):
        connection = connections["default"]
        ops = connection.ops
        q = ops.quote_name
        self.adapt_instant = ops.adapt_datetimefield_value
        if connection.vendor == "sqlite" and django_settings.USE_TZ:
            # What Django's adapter makes of an aware UTC instant (drafts'
            # are timezone.now()), at a fifth of its cost per message.
            self.adapt_instant = _sqlite_instant
        users, messages, threads = (
            q(model._meta.db_table) for model in (User, Message, Thread)
        )
        self._recipients = (
            f"SELECT {q('username')}, {q('id')}, {q('role')} FROM {users} "  # noqa: S608 (names from the models)
            f"WHERE {q('username')} IN "
        )
        self._insert = (
            f"INSERT INTO {messages} "  # noqa: S608 (names from the models)
            f"({', '.join(q(column) for column in _MESSAGE_COLUMNS)}) VALUES "
        )
        self._returning = f" RETURNING {q('id')}"
        self._row = "(" + ", ".join(["%s"] * len(_MESSAGE_COLUMNS)) + ")"
        # The condition keeps the newest id whichever transaction commits
        # last (several processes on PostgreSQL).
        self.thread_upsert = (
            f"INSERT INTO {threads} ({q('user_id')}, {q('last_message_id')}) "  # noqa: S608 (names from the models)
            f"VALUES (%s, %s) ON CONFLICT ({q('user_id')}) DO UPDATE SET "
            f"{q('last_message_id')} = excluded.{q('last_message_id')} "
            f"WHERE {threads}.{q('last_message_id')} IS NULL "
            f"OR {threads}.{q('last_message_id')} < excluded.{q('last_message_id')}"
        )

    @functools.cache  # noqa: B019 (one instance, kept for the process)
    def recipients(self, count: int) -> str:
        return self._recipients + "(" + ", ".join(["%s"] * count) + ")"

    @functools.cache  # noqa: B019 (one instance, kept for the process)
    def insert(self, count: int) -> str:
        return self._insert + ", ".join([self._row] * count) + self._returning


def _sqlite_instant(moment: datetime) -> str:
    if moment.tzinfo is not UTC:  # timezone.now() is UTC already
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat(" ")


@functools.cache
def _statements() -> _Statements:
    return _Statements()


def _recipients(cursor, drafts: list[Draft]) -> dict[str, tuple[int, str]]:
    """The users named by admins' drafts: username -> (id, role)."""
    names = sorted({draft.to for draft in drafts if draft.to is not None})
    if not names:
        return {}
    cursor.execute(_statements().recipients(len(names)), names)
    return {username: (user_id, role) for username, user_id, role in cursor.fetchall()}


def _thread_of(draft: Draft, recipients: dict[str, tuple[int, str]]) -> tuple[int, str]:
    """The (id, username) of the thread a draft goes into. Raises ChatError."""
    # Lazy texts: a batch mixes senders of several languages, and each
    # refusal is put into words in its own sender's context.
    if draft.to is None:
        return draft.sender.id, draft.sender.username
    recipient = recipients.get(draft.to)
    if recipient is None:
        raise ChatError(
            "unknown_user",
            format_lazy(gettext_lazy("There is no user named {name}."), name=draft.to),
        )
    recipient_id, role = recipient
    if role == Role.ADMIN:
        raise ChatError(
            "invalid_recipient", gettext_lazy("Admins answer users, not other admins.")
        )
    return recipient_id, draft.to


_MESSAGE_COLUMNS = (
    "thread_id",
    "sender_id",
    "sender_name",
    "sender_role",
    "text",
    "client_id",
    "created_at",
)


def _insert_messages(cursor, rows: list[tuple]) -> list[int]:
    """One multi-row INSERT ... RETURNING for a batch; the new ids in row order.

    Raw SQL because the ORM's bulk_create spent more time compiling the
    statement than the database spent running it (py-spy, this hot path).
    """
    cursor.execute(
        _statements().insert(len(rows)), [value for values in rows for value in values]
    )
    # Ids are handed out in row order within one statement; sorting makes
    # that independent of the order RETURNING lists them in.
    return sorted(row_id for (row_id,) in cursor.fetchall())


def _threads_touch(cursor, newest_by_thread: dict[int, int]) -> None:
    # One upsert per thread.
    cursor.executemany(_statements().thread_upsert, list(newest_by_thread.items()))


def _messages_write(cursor, drafts: list[Draft]) -> list[dict[str, Any] | ChatError]:
    """The statements of :func:`messages_store`, inside the caller's transaction.

    ``cursor`` takes ``%s`` placeholders: Django's, or chat.loopdb's.
    """
    recipients = _recipients(cursor, drafts)
    # One instant for the batch, the moment it is stored (docs/api.md:
    # `sent_at` is when a message was stored), formatted once each way.
    stored_at = timezone.now()
    stored_at_db = _statements().adapt_instant(stored_at)
    sent_at = iso_utc(stored_at)
    outcomes: list[tuple[Draft, int, str] | ChatError] = []
    rows = []
    for draft in drafts:
        try:
            thread_id, thread_name = _thread_of(draft, recipients)
        except ChatError as err:
            outcomes.append(err)
            continue
        outcomes.append((draft, thread_id, thread_name))
        sender = draft.sender
        rows.append(
            (
                thread_id,
                sender.id,
                sender.name,
                sender.role,
                draft.text,
                draft.client_id,
                stored_at_db,
            )
        )
    if not rows:
        return outcomes  # refusals only
    ids = iter(_insert_messages(cursor, rows))
    newest: dict[int, int] = {}
    frames = []
    for outcome in outcomes:
        if isinstance(outcome, ChatError):
            frames.append(outcome)
            continue
        draft, thread_id, thread_name = outcome
        message_id = next(ids)
        newest[thread_id] = message_id
        frames.append(
            message_frame_of(
                message_id=message_id,
                thread=thread_name,
                sender=draft.sender.username,
                sender_name=draft.sender.name,
                sender_role=draft.sender.role,
                text=draft.text,
                sent_at=sent_at,
                client_id=draft.client_id,
            )
        )
    _threads_touch(cursor, newest)
    return frames


def messages_store(drafts: list[Draft]) -> list[dict[str, Any] | ChatError]:
    """Store drafts in one transaction; for each, its ``message`` frame or its refusal.

    One recipient query, one multi-row insert and one upsert per thread, so
    a batch costs little more than a single message. Sync code, any thread.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        return _messages_write(cursor, drafts)


def messages_store_on_loop(drafts: list[Draft]) -> list[dict[str, Any] | ChatError]:
    """:func:`messages_store` on the event loop's thread, for SQLite (chat.loopdb).

    Raises ``loopdb.UseDatabaseThread`` when this cannot be done at once.
    """
    db = loopdb.loop_connection()
    if db is None:
        raise loopdb.UseDatabaseThread
    with db.transaction() as cursor:
        outcomes = _messages_write(cursor, drafts)
    loopdb.checkpoint_when_due(db)
    return outcomes


def message_store(
    *, sender: User, text: Any, to: Any = None, client_id: Any = None
) -> dict[str, Any]:
    """Validate and store one message; return its frame. Raises ChatError."""
    draft = message_draft(sender=sender, text=text, to=to, client_id=client_id)
    [outcome] = messages_store([draft])
    if isinstance(outcome, ChatError):
        raise outcome
    return outcome


@dataclass(frozen=True)
class PostedMessage:
    """A stored message: its ``message`` frame, and that frame encoded once."""

    frame: dict[str, Any]
    wire: str


def _chat_event(wires: list[str]) -> dict[str, Any]:
    # stored_at feeds the delivery-latency metric; plain types only (msgpack).
    return {"type": CHAT_MESSAGE_EVENT, "texts": wires, "stored_at": time.time()}


async def messages_publish(posted: list[PostedMessage], *, wait: bool = True) -> None:
    """Deliver stored messages to their threads' users and to the support team.

    Every socket of the thread's user and every admin socket gets each
    message once, the sender's own socket included: that copy is its echo,
    the ack. The two groups never share a socket (admins have no thread).
    A group gets all of its messages in one event, so a socket that asked
    for coalescing gets them in one frame. With ``wait`` False the relay to
    other processes is queued (in order) rather than awaited.
    """
    if not posted:
        return
    by_thread: dict[str, list[str]] = {}
    for message in posted:
        by_thread.setdefault(message.frame["thread"], []).append(message.wire)
    for thread, wires in by_thread.items():
        await hub.publish(user_group(thread), _chat_event(wires), wait=wait)
    await hub.publish(
        ADMINS_GROUP, _chat_event([message.wire for message in posted]), wait=wait
    )


async def _publish_batch(outcomes: list) -> list:
    """The writer's step after each stored batch: fan the batch out, once."""
    posted = [
        PostedMessage(frame=outcome, wire=encode(outcome))
        if isinstance(outcome, dict)
        else outcome
        for outcome in outcomes
    ]
    stored = [outcome for outcome in posted if isinstance(outcome, PostedMessage)]
    try:
        await messages_publish(stored, wait=False)
    except Exception:
        # Local delivery does not fail as a whole (each socket's failure is
        # its own); this is a bug, and the messages are stored: log it.
        logger.exception("publishing a batch of %d messages failed", len(stored))
    else:
        metrics.MESSAGES_POSTED.inc(len(stored))
    return posted


message_writer = BatchWriter(
    messages_store,
    store_on_loop=messages_store_on_loop,
    after_store=_publish_batch,
    spacing=django_settings.CHAT_BATCH_SPACING_MS / 1000,
)


async def amessage_post(
    *, sender: User, text: Any, to: Any = None, client_id: Any = None
) -> PostedMessage:
    """Store, then publish, a message from async code. Raises ChatError.

    It reaches the sender's own sockets too, as their echo. Other processes
    get it through the channel layer; when that is down the message is
    still stored and delivered here, and the others get it on ``resume``.
    """
    draft = message_draft(sender=sender, text=text, to=to, client_id=client_id)
    return await message_writer.store(draft)


def message_post(
    *, sender: User, text: Any, to: Any = None, client_id: Any = None
) -> dict[str, Any]:
    """Store, then publish, a message from sync code (views, commands, shell)."""
    frame = message_store(sender=sender, text=text, to=to, client_id=client_id)
    async_to_sync(messages_publish)([PostedMessage(frame=frame, wire=encode(frame))])
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
