"""SQLite message writes on the event loop's own thread.

With SQLite in WAL mode and ``synchronous=NORMAL`` a commit is a write into
the WAL file, no fsync: storing a batch of messages costs tens of
microseconds. Handing that to a worker thread cost more than the work
itself (the hop, the wake-up, and the loop waiting for the GIL while the
thread ran Django's cursor wrappers), and those GIL waits were the latency
spikes of the fan-out. So the batch writer stores on the loop's thread,
through a connection of its own, and never waits there:

- the connection's busy timeout is zero: when another connection holds the
  write lock (an HTTP request writing), :class:`UseDatabaseThread` is raised at once and
  the batch goes to the database thread instead, which may wait;
- its automatic WAL checkpoint is off (a checkpoint fsyncs the database
  file); :func:`checkpoint_when_due` runs one on the database thread
  instead;
- it adds the messages it stored to the search index in steps of a few
  hundred, between batches (:func:`index_when_due`, ``chat.search_index``).

Any other database (PostgreSQL) has network round trips and always uses
the database thread.

It earns its place, measured (``make bench``, fan-out and capacity, one run
each on the same machine, 2026-12-03): with it, a message of the 800 msg/s
fan-out cost 420 µs of server CPU on uvicorn and 570 on daphne; with every
batch sent to the database thread instead, 534 and 624, and daphne's
capacity fell from 2,264 to 1,600 msg/s.
"""

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections

from chat import search_index
from chat.dbthread import db_call

logger = logging.getLogger(__name__)

# Commits after which a checkpoint is run off the loop. A batch's commit
# writes a handful of pages (the message rows, two index leaves, the thread
# row), so this is near SQLite's own automatic threshold of 1000 pages.
CHECKPOINT_COMMITS = 200
CHECKPOINT_INTERVAL_SECONDS = 1.0
# Messages stored here after which they are added to the search index, and
# the most one step adds: at a few microseconds each, a step holds the loop
# for a millisecond or two.
INDEX_AFTER_MESSAGES = 200
INDEX_STEP_MESSAGES = 500


class UseDatabaseThread(Exception):
    """Not possible on the loop right now (not SQLite, or another connection
    holds the write lock): store through the database thread instead."""


def _sqlite_file() -> str | None:
    """The database file when the default database is an SQLite file, else None."""
    # The settings dict the connections share, not connections["default"]:
    # that lookup goes through asgiref's Local on every batch. The test
    # runner renames the database in this same dict.
    settings = connections.settings["default"]
    if settings["ENGINE"] != "django.db.backends.sqlite3":
        return None
    name = str(settings["NAME"])
    # An in-memory database is private to each connection (or shared only
    # through a URI this module does not reproduce): not ours to open.
    if name == ":memory:" or "mode=memory" in name:
        return None
    return name


class _Cursor:
    """A DB-API cursor that takes Django's ``%s`` placeholders."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor):
        self._cursor = cursor

    def execute(self, sql: str, params=()) -> None:
        self._cursor.execute(sql.replace("%s", "?"), params)

    def executemany(self, sql: str, seq) -> None:
        self._cursor.executemany(sql.replace("%s", "?"), seq)

    def fetchall(self) -> list:
        return self._cursor.fetchall()

    def fetchone(self):
        return self._cursor.fetchone()

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount


class LoopConnection:
    """One SQLite connection, used only from the thread that opened it."""

    def __init__(self, path: str):
        self.path = path
        self.thread = threading.get_ident()
        # isolation_level None: transactions are begun and ended explicitly.
        self._db = sqlite3.connect(path, timeout=0, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA wal_autocheckpoint=0")
        self.commits_since_checkpoint = 0
        self.last_checkpoint = time.monotonic()
        self.unindexed = 0
        self.index_step_due = False

    @contextmanager
    def transaction(self) -> Iterator[_Cursor]:
        """BEGIN IMMEDIATE ... COMMIT, or :class:`UseDatabaseThread` at once."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as err:
            if _is_busy(err):
                raise UseDatabaseThread from err
            raise
        try:
            yield _Cursor(self._db.cursor())
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self.commits_since_checkpoint += 1

    def checkpoint_due(self) -> bool:
        """True when the WAL has grown enough, or long enough, to fold back."""
        if self.commits_since_checkpoint == 0:
            return False
        return (
            self.commits_since_checkpoint >= CHECKPOINT_COMMITS
            or time.monotonic() - self.last_checkpoint >= CHECKPOINT_INTERVAL_SECONDS
        )

    def checkpoint_started(self) -> None:
        self.commits_since_checkpoint = 0
        self.last_checkpoint = time.monotonic()

    def close(self) -> None:
        self._db.close()


def _is_busy(err: sqlite3.OperationalError) -> bool:
    return "locked" in str(err) or "busy" in str(err)


_local = threading.local()


def loop_connection() -> LoopConnection | None:
    """This thread's connection to the SQLite file, or None when not on SQLite.

    Opened on first use and opened again when the database file changes (the
    test runner swaps in its test database after start-up).
    """
    path = _sqlite_file()
    current: LoopConnection | None = getattr(_local, "connection", None)
    if path is None:
        if current is not None:
            current.close()
            _local.connection = None
        return None
    if current is None or current.path != path:
        if current is not None:
            current.close()
        current = _local.connection = LoopConnection(path)
    return current


def wal_checkpoint() -> None:
    """Fold the WAL back into the database file; run on the database thread.

    PASSIVE: it copies what no reader still needs and never blocks writers
    or readers.
    """
    with connections["default"].cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")


_checkpoints: set[asyncio.Task] = set()


def checkpoint_when_due(db: LoopConnection) -> None:
    """Start a WAL checkpoint on the database thread if ``db`` has written enough."""
    if not db.checkpoint_due():
        return
    db.checkpoint_started()
    task = asyncio.ensure_future(_checkpoint())
    # Held until done: the loop keeps only weak references to tasks.
    _checkpoints.add(task)
    task.add_done_callback(_checkpoints.discard)


async def _checkpoint() -> None:
    try:
        await db_call(wal_checkpoint)
    except Exception:
        logger.warning("WAL checkpoint failed", exc_info=True)


def index_when_due(db: LoopConnection, stored: int) -> None:
    """Count ``stored`` new messages; once enough wait for the search index,
    add them in a step of their own, as soon as the loop is free."""
    db.unindexed += stored
    if db.unindexed < INDEX_AFTER_MESSAGES or db.index_step_due:
        return
    db.index_step_due = True
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # sync code (scripts, tests): now
        _index_step(db)
    else:
        # After the batch in hand is published, before the next is read.
        loop.call_soon(_index_step, db)


def _index_step(db: LoopConnection) -> None:
    db.index_step_due = False
    if getattr(_local, "connection", None) is not db:
        return  # closed meanwhile (the test runner swapped databases)
    try:
        with db.transaction() as cursor:
            indexed = search_index.index_step(cursor, INDEX_STEP_MESSAGES)
    except UseDatabaseThread:
        return  # another connection is writing: the next batch tries again
    except sqlite3.Error:
        # The messages stay pending: a search, or a later step, adds them.
        logger.warning("Adding messages to the search index failed", exc_info=True)
        return
    if indexed < INDEX_STEP_MESSAGES:
        db.unindexed = 0
    else:
        index_when_due(db, 0)  # more are pending: another step, after a turn
