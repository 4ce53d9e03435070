"""Batched storage: every post that arrives while a batch is being written goes
into the next batch, stored in one transaction with one trip to the database
thread.

Under light load a batch holds one message and nothing waits; under heavy
load the per-message cost of the transaction and the thread hop is shared.
A message is still stored before anyone is told about it: each caller gets
its own outcome only once its batch has committed.
"""

import asyncio
from collections.abc import Callable
from typing import Any

from chat.dbthread import db_call

MAX_BATCH = 500


class BatchWriter:
    """Runs ``store_batch(items) -> outcomes`` on batches of items, one at a time.

    An outcome that is an exception is raised to that item's caller alone;
    an exception from the whole batch (the database is down) to every caller
    in it.
    """

    def __init__(self, store_batch: Callable[[list], list]):
        self._store_batch = store_batch
        self._pending: list[tuple[Any, asyncio.Future]] = []
        self._flusher: asyncio.Task | None = None

    async def store(self, item: Any) -> Any:
        """Store ``item`` in the next batch; return its outcome."""
        future = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._flush())
        outcome = await future
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            try:
                outcomes = await db_call(self._store_batch, [item for item, _ in batch])
            except Exception as err:  # noqa: BLE001 (handed to every caller)
                outcomes = [err] * len(batch)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)
