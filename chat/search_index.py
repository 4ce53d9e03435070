"""SQLite's message search index, brought up to date after the messages are
stored rather than inside the transaction that stores them.

FTS5 writes a new index segment at the end of every transaction that adds
to it, and merges segments again later: for a batch of one message that was
about 40 % of the batch's whole cost (a micro-benchmark of
``chat.store.messages_store_on_loop``, one core: 230-276 µs per one-message
batch with the index written in the transaction, 155-169 µs without; a
trigger noting the id instead, 140-145 µs). Added later in bulk, a message
costs the index a few microseconds.

So the insert trigger of migration 0005 only notes a new message's id in
``chat_message_search_pending``, and the noted messages are indexed in
steps of many:

- before every search (:func:`catch_up`, from ``chat.search``), so a
  search never misses a message, however new;
- by the event loop that stored them, on its own SQLite connection, once
  a few hundred have gathered (``chat.loopdb.index_when_due``): between
  batches, never waiting for a lock, a step taking a millisecond or two. On
  the database thread instead, a step held the write lock while the loop's
  batches queued behind it and the WAL checkpoint (p99 52 ms at
  2,600 msg/s in ``make bench``);
- at the end of ``manage.py import_original``.

PostgreSQL keeps its search column in the row itself: nothing to catch up.
"""

from django.db import connection, transaction

# Messages indexed per transaction: a bulk import is caught up in steps that
# each hold the write lock for well under a second.
CHUNK = 20_000

_PENDING = "SELECT EXISTS (SELECT 1 FROM chat_message_search_pending)"
_INDEX = (
    "INSERT INTO chat_message_search(rowid, text) "
    "SELECT m.id, m.text FROM chat_message_search_pending p "
    "JOIN chat_message m ON m.id = p.message_id "
    "ORDER BY p.message_id LIMIT %s"
)
_STRIKE_OFF = (
    "DELETE FROM chat_message_search_pending WHERE message_id IN ("
    "SELECT message_id FROM chat_message_search_pending "
    "ORDER BY message_id LIMIT %s)"
)


def index_step(cursor, limit: int) -> int:
    """Index up to ``limit`` pending messages, oldest first, inside the
    caller's write transaction; how many were indexed.

    ``cursor`` takes ``%s`` placeholders: Django's, or chat.loopdb's. Both
    statements see the same pending rows: the transaction holds the write
    lock from its start (BEGIN IMMEDIATE; ``transaction_mode`` on Django's
    connection, chatproject/settings.py).
    """
    cursor.execute(_INDEX, [limit])
    cursor.execute(_STRIKE_OFF, [limit])
    return cursor.rowcount


def pending() -> bool:
    """Whether stored messages wait to join the index (SQLite only)."""
    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        cursor.execute(_PENDING)
        return bool(cursor.fetchone()[0])


def catch_up() -> None:
    """Index every pending message, on Django's connection.

    Sync code, any thread. When nothing is pending (and on PostgreSQL) it
    costs one read and takes no lock.
    """
    while pending():
        with transaction.atomic(), connection.cursor() as cursor:
            index_step(cursor, CHUNK)
