"""Sockets that went quiet: closed after ``SOCKET_IDLE_SECONDS`` without a frame.

A peer whose network vanished leaves a socket that looks open until TCP
gives up, and it would count towards the user's sockets and the team's
presence meanwhile. The page pings every 20 s, so only such sockets go
quiet this long.

One sweep per process, not a timer per socket: a socket only notes the
sweep's round number when a frame arrives (a reference to a shared int, so
an idle socket costs no extra memory), and the sweep closes the sockets
whose last round is too old.
"""

import asyncio
import logging
from typing import Protocol

from django.conf import settings

from chat.hub import hub

logger = logging.getLogger(__name__)

# The limit is met to within a tenth of itself.
ROUNDS_PER_LIMIT = 10


class Quiet(Protocol):
    heard_round: int

    async def close_idle(self) -> None: ...


class IdleSweep:
    def __init__(self):
        self.round = 0
        self._task: asyncio.Task | None = None

    def watch(self) -> None:
        """Make sure the sweep runs in this event loop (a socket opened)."""
        task = self._task
        if (
            task is None
            or task.done()
            or task.get_loop() is not asyncio.get_running_loop()
        ):
            self._task = asyncio.ensure_future(self._run())

    def stop_when_idle(self) -> None:
        """No socket left in this process: nothing to sweep."""
        if not hub.members and self._task is not None and not self._task.done():
            self._task.cancel()

    async def _run(self) -> None:
        interval = settings.SOCKET_IDLE_SECONDS / ROUNDS_PER_LIMIT
        while hub.members:
            await asyncio.sleep(interval)
            self.round += 1
            # Heard in round r, then silent through rounds r+1 .. round-1:
            # quiet for at least ROUNDS_PER_LIMIT whole rounds, the limit.
            last_quiet_round = self.round - 1 - ROUNDS_PER_LIMIT
            quiet = {
                member
                for members in hub.members.values()
                for member in members
                if getattr(member, "heard_round", self.round) <= last_quiet_round
            }
            for member in quiet:
                try:
                    await member.close_idle()
                except Exception:
                    logger.exception("could not close an idle socket")


idle_sweep = IdleSweep()
