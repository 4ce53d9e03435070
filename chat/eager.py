"""Run a coroutine at once, without a task, and give it one only if it must wait.

The hub hands an event to every socket of a group in one pass. Awaiting each
socket in turn let one socket that stopped reading (its buffers full, its
server waiting for room) hold up every socket after it, and the batch writer
behind them. A task per socket per event would cost more than the delivery
itself. So each delivery starts here, in the caller: almost always it ends
without suspending (the frame went into the socket's buffer); the rare one
that must wait goes on in a task of its own, and the pass moves on.
"""

from collections.abc import Coroutine
from typing import Any


def start(coro: Coroutine) -> Any:
    """Run ``coro`` up to its first suspension. Return ``None`` when it ended
    without one, else what it waits on, to hand to :func:`carry_on`.

    An exception it raises before suspending is raised here.
    """
    try:
        waits_on = coro.send(None)
    except StopIteration:
        return None
    # A bare ``yield`` (asyncio.sleep(0)) is a suspension too.
    return _Suspended(waits_on)


class _Suspended:
    __slots__ = ("waits_on",)

    def __init__(self, waits_on: Any):
        self.waits_on = waits_on


class _Resume:
    """Awaitable that drives a coroutine already started outside any task,
    inside the awaiting task, as ``await coro`` would have from the start."""

    __slots__ = ("coro", "waits_on")

    def __init__(self, coro: Coroutine, suspended: _Suspended):
        self.coro = coro
        self.waits_on = suspended.waits_on

    def __await__(self):
        waits_on = self.waits_on
        while True:
            try:
                sent = yield waits_on
            except BaseException as err:  # noqa: BLE001 (cancellation, passed in)
                try:
                    waits_on = self.coro.throw(err)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    waits_on = self.coro.send(sent)
                except StopIteration as stop:
                    return stop.value


async def carry_on(coro: Coroutine, suspended: _Suspended) -> Any:
    """Finish ``coro``, started by :func:`start`, in the current task."""
    return await _Resume(coro, suspended)
