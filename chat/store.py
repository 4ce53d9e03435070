"""The storage of a batch of messages: one transaction, its SQL written once.

``chat.writer`` hands every post read in one turn of the event loop to
:func:`amessages_store` as one batch: one recipient query, one multi-row
insert, and one read and one update of each thread's desk state
(``chat.desk``), so a batch costs little more than a single message. Its
outcomes (a :class:`StoredMessage` or the refusal, per draft) then go to
``chat.services.publish_batch``.
"""

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings as django_settings
from django.db import connection, connections, transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy

from accounts.models import User, is_admin_role
from chat import desk, loopdb
from chat.dbthread import db_call
from chat.frames import ChatError, encode_shared, message_frame_of
from chat.models import Message
from chatproject.isotime import iso_utc


@dataclass(frozen=True)
class Draft:
    """A message that passed every check that needs no database
    (``chat.services.message_draft``)."""

    sender: User
    text: str
    client_id: str | None
    to: str | None
    # An internal note of the team (PROTOCOL.md 4): admins only.
    note: bool = False


@dataclass(frozen=True)
class StoredMessage:
    """A stored message: its ``message`` frame, that frame encoded once, and
    its thread's ``conversation`` when this message changed the thread's
    status or assignee (the last such message of its thread in the batch)."""

    frame: dict[str, Any]
    wire: str
    conversation: dict[str, Any] | None = None


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
        users, messages = (q(model._meta.db_table) for model in (User, Message))
        self._recipients = (
            f"SELECT {q('username')}, {q('id')}, {q('role')} FROM {users} "  # noqa: S608 (names from the models)
            f"WHERE {q('username')} IN "
        )
        self._insert = (
            f"INSERT INTO {messages} "  # noqa: S608 (names from the models)
            f"({', '.join(q(column) for column in MESSAGE_COLUMNS)}) VALUES "
        )
        self._returning = f" RETURNING {q('id')}"
        self._row = "(" + ", ".join(["%s"] * len(MESSAGE_COLUMNS)) + ")"

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
    if is_admin_role(role):
        raise ChatError(
            "invalid_recipient", gettext_lazy("Admins answer users, not other admins.")
        )
    return recipient_id, draft.to


# The order of a row's values for insert_messages.
MESSAGE_COLUMNS = (
    "thread_id",
    "sender_id",
    "sender_name",
    "sender_role",
    "text",
    "client_id",
    "created_at",
    "note",
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


def _messages_write(cursor, drafts: list[Draft]) -> list[StoredMessage | ChatError]:
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
                draft.note,
            )
        )
    if not rows:
        return outcomes  # refusals only
    # Threads first: their locks order concurrent batches of one thread, so
    # ids and the desk's rules follow the same order.
    states = desk.threads_lock(cursor, [row[0] for row in rows])
    ids = iter(_insert_messages(cursor, rows))
    posted = []
    written: list[tuple[int, dict[str, Any]] | ChatError] = []
    for outcome in outcomes:
        if isinstance(outcome, ChatError):
            written.append(outcome)
            continue
        draft, thread_id, thread_name = outcome
        message_id = next(ids)
        frame = message_frame_of(
            message_id=message_id,
            thread=thread_name,
            sender=draft.sender.username,
            sender_name=draft.sender.name,
            sender_role=draft.sender.role,
            text=draft.text,
            sent_at=sent_at,
            client_id=draft.client_id,
            note=draft.note,
        )
        posted.append(
            (
                message_id,
                desk.Posted(thread_id, draft.sender.id, draft.note, stored_at_db),
                frame,
            )
        )
        written.append((thread_id, frame))
    conversations = desk.threads_update(cursor, states, posted)
    results: list[StoredMessage | ChatError] = []
    # A thread's conversation rides on its last message of the batch.
    told = set()
    for item in reversed(written):
        if isinstance(item, ChatError):
            results.append(item)
            continue
        thread_id, frame = item
        conversation = None
        if thread_id in conversations and thread_id not in told:
            told.add(thread_id)
            conversation = conversations[thread_id]
        results.append(StoredMessage(frame, encode_shared(frame), conversation))
    results.reverse()
    return results


def messages_store(drafts: list[Draft]) -> list[StoredMessage | ChatError]:
    """Store drafts in one transaction; for each, the stored message or its refusal.

    Sync code, any thread, on Django's connection.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        return _messages_write(cursor, drafts)


def messages_store_on_loop(drafts: list[Draft]) -> list[StoredMessage | ChatError]:
    """:func:`messages_store` on the event loop's own thread, for SQLite.

    Raises ``loopdb.UseDatabaseThread`` when this cannot be done at once
    (another connection holds the write lock; not SQLite).
    """
    db = loopdb.loop_connection()
    if db is None:
        raise loopdb.UseDatabaseThread
    with db.transaction() as cursor:
        outcomes = _messages_write(cursor, drafts)
    loopdb.index_when_due(db, len(drafts))
    loopdb.checkpoint_when_due(db)
    return outcomes


async def amessages_store(drafts: list[Draft]) -> list[StoredMessage | ChatError]:
    """Store a batch of drafts in one transaction; per draft, the stored message
    or its refusal. Raises when the whole batch failed (the database is down).

    On SQLite the transaction runs on the event loop's thread when the write
    lock is free at once (chat.loopdb: a commit there costs less than the
    hop to a thread); otherwise, and on PostgreSQL, on the database thread.
    """
    try:
        return messages_store_on_loop(drafts)
    except loopdb.UseDatabaseThread:
        return await db_call(messages_store, drafts)
