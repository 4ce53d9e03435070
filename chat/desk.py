"""The support desk's rules (PROTOCOL.md 4), applied where messages are stored.

A thread is ``open`` or ``resolved``, has an assignee or none, and waits for
the team's reply since a moment or not at all. ``chat.store`` calls
:func:`threads_update` inside the transaction that inserts a batch of
messages, so the state can never disagree with the messages:

- a customer's message reopens a resolved thread, and starts the wait if
  the customer was not already waiting;
- a reply from the team ends the wait and, in an unassigned thread, makes
  the replying admin its assignee;
- notes change nothing but the thread's newest message.

The thread rows are read and locked first (``FOR UPDATE`` on PostgreSQL;
SQLite's write transaction is already exclusive), so two processes storing
into one thread apply the rules one after the other, in id order.
"""

import functools
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from django.db import connections

from accounts.models import User
from chat.frames import conversation_frame_of
from chat.models import ReadState, Thread
from chatproject.isotime import iso_utc_stored


@dataclass(frozen=True)
class ThreadState:
    """A thread's desk state as stored; ``waiting_since`` is the database's value."""

    user_id: int
    status: str
    assignee_id: int | None
    waiting_since: Any
    last_message_id: int | None


@dataclass(frozen=True)
class Posted:
    """A message of the batch as the rules see it."""

    thread_id: int
    sender_id: int
    note: bool
    # The batch's instant, adapted for the database.
    stored_at: Any


def state_after(state: ThreadState, message_id: int, posted: Posted) -> ThreadState:
    """The thread's state once ``posted`` (stored as ``message_id``) is in."""
    newest = max(state.last_message_id or 0, message_id)
    if posted.note:
        return replace(state, last_message_id=newest)
    if posted.sender_id == state.user_id:
        return replace(
            state,
            status=Thread.OPEN,
            waiting_since=state.waiting_since or posted.stored_at,
            last_message_id=newest,
        )
    return replace(
        state,
        assignee_id=state.assignee_id or posted.sender_id,
        waiting_since=None,
        last_message_id=newest,
    )


def announced_change(before: ThreadState, after: ThreadState) -> bool:
    """Whether the team is told: PROTOCOL.md 4 announces status and assignee."""
    return before.status != after.status or before.assignee_id != after.assignee_id


# ThreadState's fields, named as chat_thread's columns.
_STATE_COLUMNS = ("status", "assignee_id", "waiting_since", "last_message_id")


class _Statements:
    """The desk's SQL on the hot path, written once (names from the models)."""

    def __init__(self):
        connection = connections["default"]
        q = connection.ops.quote_name
        threads, users, reads = (
            q(model._meta.db_table) for model in (Thread, User, ReadState)
        )
        self.adapt_instant = connection.ops.adapt_datetimefield_value
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        self._select = (
            f"SELECT user_id, status, assignee_id, waiting_since, last_message_id "  # noqa: S608 (names from the models)
            f"FROM {threads} WHERE user_id IN ("
        )
        # Locked in one order everywhere, so two batches cannot deadlock.
        self._select_end = ") ORDER BY user_id" + lock
        self.create = (
            f"INSERT INTO {threads} (user_id, status) VALUES (%s, %s) "  # noqa: S608 (names from the models)
            f"ON CONFLICT (user_id) DO NOTHING"
        )
        self._threads = threads
        self.people = (
            f"SELECT u.username, u.display_name, a.username, a.display_name, "  # noqa: S608 (names from the models)
            f"r.last_read_id FROM {users} u "
            f"LEFT JOIN {users} a ON a.id = %s "
            f"LEFT JOIN {reads} r ON r.reader_id = u.id AND r.thread_id = u.id "
            f"WHERE u.id = %s"
        )

    @functools.cache  # noqa: B019 (one instance, kept for the process)
    def update(self, columns: tuple[str, ...]) -> str:
        """An UPDATE of ``columns`` only: an index whose column is set is
        rewritten even when the value is the same, and most messages change
        the newest message alone."""
        assignments = ", ".join(f"{column} = %s" for column in columns)
        return f"UPDATE {self._threads} SET {assignments} WHERE user_id = %s"  # noqa: S608 (names from the models)

    @functools.cache  # noqa: B019 (one instance, kept for the process)
    def select(self, count: int) -> str:
        return self._select + ", ".join(["%s"] * count) + self._select_end


@functools.cache
def _statements() -> _Statements:
    return _Statements()


def threads_lock(cursor, thread_ids: list[int]) -> dict[int, ThreadState]:
    """Each thread's state, its row created when missing and locked till commit."""
    ids = sorted(set(thread_ids))
    states = _read(cursor, ids)
    missing = [thread_id for thread_id in ids if thread_id not in states]
    if missing:
        # A customer's first message. Two processes may race to create the
        # row: DO NOTHING lets the second one lock the first one's row.
        cursor.executemany(
            _statements().create, [(thread_id, Thread.OPEN) for thread_id in missing]
        )
        states.update(_read(cursor, missing))
    return states


def _read(cursor, ids: list[int]) -> dict[int, ThreadState]:
    statements = _statements()
    cursor.execute(statements.select(len(ids)), ids)
    states = {}
    for user_id, status, assignee_id, waiting_since, last_id in cursor.fetchall():
        if isinstance(waiting_since, datetime):
            # Written back as read: in the database's own form (Django's
            # SQLite cursor hands back datetimes, chat.loopdb's text).
            waiting_since = statements.adapt_instant(waiting_since)
        states[user_id] = ThreadState(
            user_id, status, assignee_id, waiting_since, last_id
        )
    return states


def threads_update(
    cursor,
    states: dict[int, ThreadState],
    posted: list[tuple[int, Posted, dict[str, Any]]],
) -> dict[int, dict[str, Any]]:
    """Apply the rules for the batch's messages ``(id, posted, message frame)``,
    in id order, and write each thread's new state.

    Returns the ``conversation`` frame of each thread whose status or
    assignee changed, by thread id.
    """
    before = dict(states)
    newest_frame: dict[int, dict[str, Any]] = {}
    for message_id, message, frame in posted:
        states[message.thread_id] = state_after(
            states[message.thread_id], message_id, message
        )
        newest_frame[message.thread_id] = frame
    states_write(
        cursor, before, {thread_id: states[thread_id] for thread_id in newest_frame}
    )
    return {
        thread_id: _conversation(cursor, states[thread_id], newest_frame[thread_id])
        for thread_id in newest_frame
        if announced_change(before[thread_id], states[thread_id])
    }


def states_write(
    cursor, before: dict[int, ThreadState], after: dict[int, ThreadState]
) -> None:
    """Write each thread of ``after`` whose state differs from ``before``'s,
    one UPDATE per set of changed columns."""
    by_columns: dict[tuple[str, ...], list[tuple]] = {}
    for thread_id, new in after.items():
        old = before[thread_id]
        changed = tuple(
            column
            for column in _STATE_COLUMNS
            if getattr(old, column) != getattr(new, column)
        )
        if changed:
            values = tuple(getattr(new, column) for column in changed)
            by_columns.setdefault(changed, []).append((*values, thread_id))
    statements = _statements()
    for columns, rows in by_columns.items():
        cursor.executemany(statements.update(columns), rows)


def _conversation(cursor, state: ThreadState, last_message: dict[str, Any]):
    """The ``conversation`` frame's body; one query, run only when a change is told."""
    cursor.execute(_statements().people, [state.assignee_id, state.user_id])
    username, display_name, assignee, assignee_display, seen = cursor.fetchone()
    return conversation_frame_of(
        user=username,
        name=display_name or username,
        last_message=last_message,
        status=state.status,
        assignee=assignee,
        assignee_name=(assignee_display or assignee) if assignee else None,
        waiting_since=(
            iso_utc_stored(state.waiting_since) if state.waiting_since else None
        ),
        user_seen_up_to=seen,
    )
