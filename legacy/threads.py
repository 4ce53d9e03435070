"""The desk's state of the threads the import wrote to, as if their messages
had arrived live (``chat.desk``), and read marks that count every imported
message as read.

Run after the messages, over every thread whose stored newest message is
not its newest message: the threads of this run and those of a run that
stopped before getting here.
"""

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from django.db import connection, transaction

from accounts.models import Role, User
from chat import desk
from chat.models import Message, ReadState, Thread
from legacy import bulk

CHUNK = 1000


def stale_threads() -> list[int]:
    """Threads whose desk state does not know their newest message."""
    q = connection.ops.quote_name
    messages, threads = q(Message._meta.db_table), q(Thread._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT m.thread_id FROM (SELECT thread_id, MAX(id) AS newest "  # noqa: S608 (names from the models)
            f"FROM {messages} GROUP BY thread_id) m "
            f"LEFT JOIN {threads} t ON t.user_id = m.thread_id "
            f"WHERE t.last_message_id IS NULL OR t.last_message_id < m.newest "
            f"ORDER BY m.thread_id"
        )
        return [thread_id for (thread_id,) in cursor.fetchall()]


def bring_up_to_date(
    thread_ids: list[int], progress: Callable[[int], None] = lambda n: None
) -> int:
    """Replay the messages each thread's state has not seen yet, and mark them
    read (``_mark_read``). Returns the number of threads written."""
    readers = list(
        User.objects.filter(role=Role.ADMIN, is_active=True).values_list(
            "pk", flat=True
        )
    )
    for start in range(0, len(thread_ids), CHUNK):
        chunk = thread_ids[start : start + CHUNK]
        with transaction.atomic(), connection.cursor() as cursor:
            states = desk.threads_lock(cursor, chunk)
            after = _replayed(cursor, states)
            desk.states_write(cursor, states, after)
            _mark_read(cursor, states, after, readers)
        progress(len(chunk))
    return len(thread_ids)


def _replayed(
    cursor, states: dict[int, desk.ThreadState]
) -> dict[int, desk.ThreadState]:
    q = connection.ops.quote_name
    adapt = connection.ops.adapt_datetimefield_value
    since = min(state.last_message_id or 0 for state in states.values())
    ids = list(states)
    cursor.execute(
        f"SELECT thread_id, id, sender_id, note, created_at "  # noqa: S608 (names from the models)
        f"FROM {q(Message._meta.db_table)} "
        f"WHERE thread_id IN ({', '.join(['%s'] * len(ids))}) AND id > %s "
        f"ORDER BY thread_id, id",
        [*ids, since],
    )
    after = dict(states)
    team_wrote_last: dict[int, bool] = {}
    for thread_id, message_id, sender_id, note, created_at in cursor.fetchall():
        state = after[thread_id]
        if message_id <= (states[thread_id].last_message_id or 0):
            continue
        if isinstance(created_at, datetime):
            created_at = adapt(created_at)
        posted = desk.Posted(thread_id, sender_id, bool(note), created_at)
        after[thread_id] = desk.state_after(state, message_id, posted)
        if not note:
            team_wrote_last[thread_id] = sender_id != thread_id
    # The original had no "resolved": a conversation where the team had the
    # last word is taken as answered.
    for thread_id, team_last in team_wrote_last.items():
        status = Thread.RESOLVED if team_last else Thread.OPEN
        after[thread_id] = replace(after[thread_id], status=status)
    return after


def _mark_read(
    cursor,
    before: dict[int, desk.ThreadState],
    after: dict[int, desk.ThreadState],
    admins: list[int],
) -> None:
    """Imported messages count as read: by everyone in a thread that had none
    before; in a thread that had messages, by each reader who had read them
    all (a reader with unread messages written here keeps them unread)."""
    new_threads, grown = [], []
    for thread_id, state in after.items():
        earlier = before[thread_id].last_message_id
        if state.last_message_id == earlier:
            continue
        if earlier is None:
            new_threads += [
                (reader, thread_id, state.last_message_id)
                for reader in (thread_id, *admins)
            ]
        else:
            grown.append((state.last_message_id, thread_id, earlier))
    table = connection.ops.quote_name(ReadState._meta.db_table)
    higher = "MAX" if connection.vendor == "sqlite" else "GREATEST"
    bulk.insert(
        cursor,
        ReadState,
        ("reader_id", "thread_id", "last_read_id"),
        new_threads,
        suffix=" ON CONFLICT (reader_id, thread_id) DO UPDATE SET last_read_id = "
        f"{higher}({table}.last_read_id, excluded.last_read_id)",
    )
    if grown:
        cursor.executemany(
            f"UPDATE {table} SET last_read_id = %s "  # noqa: S608 (names from the model)
            f"WHERE thread_id = %s AND last_read_id >= %s",
            grown,
        )
