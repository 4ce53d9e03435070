"""Capturing the queries run on the chat's read thread (chat.dbthread.db_read).

The history endpoints query there, through that thread's own connection,
so ``CaptureQueriesContext(connection)`` in the test's thread sees none of
their queries.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from asgiref.sync import async_to_sync
from django.db import connections
from django.test.utils import CaptureQueriesContext

from chat.dbthread import db_call, db_read


def _on_db_thread(function, *args):
    return async_to_sync(db_read)(function, *args)


@contextmanager
def db_thread_queries() -> Iterator[list[dict]]:
    """The queries run on the database thread inside the block, as a list
    filled in when the block ends (``CaptureQueriesContext.captured_queries``
    items: ``sql`` and ``time``)."""
    captured: list[dict] = []
    # Made, entered and left on the database thread: a connection refuses
    # use from any other thread.
    context = _on_db_thread(lambda: CaptureQueriesContext(connections["default"]))
    _on_db_thread(context.__enter__)
    try:
        yield captured
    finally:
        _on_db_thread(context.__exit__, None, None, None)
        captured.extend(context.captured_queries)


class QueriesOnBothThreads:
    """``async with QueriesOnBothThreads() as queries``: the queries run on
    both chat database threads (reads and writes) inside the block, for
    async tests; ``queries`` is filled in when the block ends."""

    async def __aenter__(self) -> list[dict]:
        self.captured: list[dict] = []
        self.contexts = []
        for thread in (db_read, db_call):
            context = await thread(
                lambda: CaptureQueriesContext(connections["default"])
            )
            await thread(context.__enter__)
            self.contexts.append((thread, context))
        return self.captured

    async def __aexit__(self, *exc_info) -> None:
        for thread, context in self.contexts:
            await thread(context.__exit__, None, None, None)
            self.captured.extend(context.captured_queries)
