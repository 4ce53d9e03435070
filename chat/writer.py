"""Batched storage: every post that arrives while a batch is being stored goes
into the next batch, stored in one transaction and then published once.

Under light load a batch holds one message and nothing waits; under heavy
load the per-message cost of the transaction, the fan-out and (for
sockets that ask for it) the frames is shared. How long a batch gathers
adapts to the load: it goes as soon as a round of event-loop turns brings
no further post, so a lone message waits two loop turns (microseconds),
and a burst read over several turns still goes as one batch. A message is
still stored before anyone is told about it: the batch is published, and
each caller gets its own outcome, only once the batch has committed.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

MAX_BATCH = 500
# A burst gathers for at most this long, however steadily posts keep coming:
# under saturation the batches are then this far apart, not one long one.
MAX_GATHER_SECONDS = 0.004
# Loop turns from a socket becoming readable to its post joining the batch:
# the server reads the frame in one turn and the consumer runs in the next.
TURNS_PER_ROUND = 2


class BatchWriter:
    """Stores batches of items one at a time and hands each item its outcome.

    ``store(items) -> outcomes`` stores one batch (one outcome per item, in
    order); ``publish(outcomes)`` runs once per stored batch before any
    caller resumes. ``spacing``, when set, is the shortest time in seconds
    from one batch's start to the next one's: a fixed floor on top of the
    adaptive gathering (0 by default; tests use it to force batches).

    An outcome that is an exception is raised to that item's caller alone;
    an exception from the whole batch (the database is down) to every
    caller in it, and nothing is published.
    """

    def __init__(
        self,
        *,
        store: Callable[[list], Awaitable[list]],
        publish: Callable[[list], Awaitable[None]],
        spacing: float = 0.0,
    ):
        self.spacing = spacing
        self._store = store
        self._publish = publish
        self._last_started = float("-inf")
        self._pending: list[tuple[Any, asyncio.Future]] = []
        self._flusher: asyncio.Task | None = None

    async def store(self, item: Any) -> Any:
        """Store ``item`` in the next batch; return its outcome."""
        loop = asyncio.get_running_loop()
        flusher = self._flusher
        if flusher is not None and flusher.get_loop() is not loop:
            # Left by another event loop, now closed (tests): it never runs,
            # and the posts it held have no one waiting.
            self._flusher = flusher = None
            self._pending = []
        future = loop.create_future()
        self._pending.append((item, future))
        if flusher is None or flusher.done():
            # A task, not a direct call: every post read in this turn of the
            # loop joins the batch before it is stored.
            self._flusher = asyncio.ensure_future(self._flush())
        outcome = await future
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            # A fixed floor, when set: batches start at least `spacing`
            # apart (a post that follows the last batch closely waits).
            if self.spacing:
                wait = self._last_started + self.spacing - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
            await self._gather(loop)
            self._last_started = loop.time()
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            try:
                outcomes = await self._store([item for item, _ in batch])
            except Exception as err:  # noqa: BLE001 (handed to every caller)
                outcomes = [err] * len(batch)
            else:
                await self._publish(outcomes)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)

    async def _gather(self, loop: asyncio.AbstractEventLoop) -> None:
        """Let the posts of a burst in progress join: wait while each round of
        loop turns still brings new ones, up to :data:`MAX_GATHER_SECONDS`.

        A fixed wait would be latency at low load (and, start to start, it
        locks onto the worst lag it has seen); none at all splits a burst
        that the server reads over several turns into several batches, each
        paying the transaction and the fan-out again.
        """
        deadline = loop.time() + MAX_GATHER_SECONDS
        seen = len(self._pending)
        while seen < MAX_BATCH:
            for _ in range(TURNS_PER_ROUND):
                await asyncio.sleep(0)
            if len(self._pending) == seen or loop.time() >= deadline:
                return
            seen = len(self._pending)
