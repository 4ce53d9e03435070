"""Sessions that end: live expiry timers and revocation of open sockets.

A socket lives only as long as its token: it is warned before ``exp`` and
closed at ``exp``, and closed at once when its token is revoked, on every
server process (revocations travel through the channel layer, and each
process also reads the journal of ended sessions every few seconds).
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import async_to_sync
from django.db import transaction
from django.utils import timezone

from accounts.models import SessionEnd
from accounts.tokens import InvalidToken, VerifiedToken, reverify
from chat.dbthread import db_read
from chat.groups import user_group
from chat.hub import hub

logger = logging.getLogger(__name__)

EXPIRY_WARNING_SECONDS = 60
SESSION_REVOKE_EVENT = "session.revoke"
# PROTOCOL.md 3.4: within 10 s when the live announcement was lost.
CATCH_UP_SECONDS = 3.0
CATCH_UP_OVERLAP_SECONDS = 30.0


class SessionClock:
    """One timer per socket: the warning ``EXPIRY_WARNING_SECONDS`` before expiry,
    then the expiry itself. A loop timer handle, not a task, so an idle socket
    costs a heap entry and no coroutine frame.
    """

    __slots__ = ("_expires_at", "_handle", "_on_expired", "_on_warning", "_running")

    def __init__(
        self,
        expires_at: float,
        on_warning: Callable[[], Awaitable[None]],
        on_expired: Callable[[], Awaitable[None]],
    ):
        self._expires_at = expires_at
        self._on_warning = on_warning
        self._on_expired = on_expired
        self._handle: asyncio.TimerHandle | None = None
        self._running: asyncio.Task | None = None

    def start(self) -> None:
        warn_in = self._expires_at - EXPIRY_WARNING_SECONDS - time.time()
        self._handle = asyncio.get_running_loop().call_later(
            max(0.0, warn_in), self._warn
        )

    def _warn(self) -> None:
        self._running = asyncio.ensure_future(self._on_warning())
        expire_in = self._expires_at - time.time()
        self._handle = asyncio.get_running_loop().call_later(
            max(0.0, expire_in), self._expire
        )

    def _expire(self) -> None:
        self._handle = None
        self._running = asyncio.ensure_future(self._on_expired())

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


def revocation_applies(event: dict[str, Any], token: VerifiedToken) -> bool:
    """Whether a ``session.revoke`` event ends the socket holding ``token``.

    An event names the account (a renamed account's sockets and the new
    holder of its old name may share a group) and then one token, or every
    token issued before an instant.
    """
    if event.get("user_id") != token.user.pk:
        return False
    if event.get("token_id") is not None:
        return event["token_id"] == token.token_id
    issued_before = event.get("issued_before")
    return issued_before is not None and token.issued_at < issued_before


def revocation_event(
    *, user_id: int, token_id: str | None, issued_before: float | None
) -> dict[str, Any]:
    return {
        "type": SESSION_REVOKE_EVENT,
        "user_id": user_id,
        "token_id": token_id,
        "issued_before": issued_before,
    }


# Revocations this process has started to publish. A handshake that saw no
# change across its token check and its group joins cannot have missed one
# published here (chat.consumers).
_revocations_published = 0


def revocation_mark() -> int:
    """A mark to compare later: has this process published a revocation since?

    The handshake takes it before checking the token (chat.middleware), and
    :func:`still_valid_after_joining` compares it once the socket is in its
    groups.
    """
    return _revocations_published


async def still_valid_after_joining(scope) -> bool:
    """Whether the socket's token is still good now that it is in its groups.

    A revocation published between the handshake's check and the joining
    would never reach the socket. In one process alone every revocation is
    published here, so an unchanged mark proves none was; with other
    processes (a relaying layer) the token is checked once more, now that
    any later revocation will reach the socket.
    """
    if not hub.relays() and revocation_mark() == scope["revocation_mark"]:
        return True
    try:
        await db_read(reverify, scope["token"])
    except InvalidToken:
        return False
    return True


def _publish_revocation(username: str, event: dict[str, Any]) -> None:
    global _revocations_published
    _revocations_published += 1
    try:
        async_to_sync(hub.publish)(user_group(username), event)
    except Exception:
        # The revocation is already stored and every new handshake and
        # request refuses the token; the catch-up below closes the sockets
        # this could not reach. It must not fail the logout or the admin
        # action that caused it.
        logger.exception("could not reach the open sockets of %s", username)


def sessions_ended(
    sender, *, user_id, username, token_id=None, issued_before=None, **kwargs
):
    """Receiver of ``accounts.signals.sessions_ended``: close the matching sockets.

    Published after the transaction commits, so a socket is never closed for
    a revocation that was rolled back.
    """
    event = revocation_event(
        user_id=user_id, token_id=token_id, issued_before=issued_before
    )
    transaction.on_commit(lambda: _publish_revocation(username, event))


def recent_session_ends(since: datetime) -> list[tuple[int, int, str, Any, Any]]:
    """The journal's entries created after ``since``: (id, user id, username,
    token id, issued before)."""
    return list(
        SessionEnd.objects.filter(created_at__gt=since)
        .order_by("id")
        .values_list("id", "user_id", "username", "token_id", "issued_before")
    )


class RevocationCatchUp:
    """Reads the journal of ended sessions and closes the sockets it names.

    The live announcement travels through the channel layer; when that was
    down, or the change came from a process with no layer of its own (a
    shell beside the in-memory layer), nothing else would reach the sockets.
    The database is the source of truth: one query per process every
    ``CATCH_UP_SECONDS`` while it has open sockets, and at once when the
    layer reconnects. Entries are read again for ``CATCH_UP_OVERLAP_SECONDS``
    (a transaction may commit well after its entry's timestamp); applying one
    twice closes nothing more.
    """

    def __init__(self):
        self._task: asyncio.Task | None = None
        self._wake: asyncio.Event | None = None
        self._since: datetime | None = None
        self._applied: dict[int, float] = {}

    def watch(self) -> None:
        """Make sure the catch-up runs in this event loop (a socket opened)."""
        loop = asyncio.get_running_loop()
        if self._since is None:
            # What ended before this process served anyone was refused at
            # every handshake since; a margin covers transactions in flight.
            self._since = timezone.now() - timedelta(seconds=CATCH_UP_OVERLAP_SECONDS)
        task = self._task
        if task is None or task.done() or task.get_loop() is not loop:
            self._wake = asyncio.Event()
            self._task = loop.create_task(self._run())

    def stop_when_idle(self) -> None:
        """No socket left in this process: nothing to read the journal for."""
        if not hub.members and self._task is not None and not self._task.done():
            self._task.cancel()

    def wake(self) -> None:
        """Read the journal now (the channel layer came back)."""
        if self._wake is not None and self._task is not None and not self._task.done():
            self._task.get_loop().call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        while hub.members:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), CATCH_UP_SECONDS)
            self._wake.clear()
            try:
                await self.catch_up()
            except Exception:
                # The top of a long-lived loop: the next round tries again.
                logger.exception("could not read the journal of ended sessions")

    async def catch_up(self) -> int:
        """Apply the journal's recent entries to this process's sockets; return
        how many were new."""
        started = timezone.now()
        rows = await db_read(recent_session_ends, self._since)
        self._since = started - timedelta(seconds=CATCH_UP_OVERLAP_SECONDS)
        horizon = time.monotonic() - 2 * CATCH_UP_OVERLAP_SECONDS
        self._applied = {
            entry: seen for entry, seen in self._applied.items() if seen > horizon
        }
        new = 0
        for entry_id, user_id, username, token_id, issued_before in rows:
            if entry_id in self._applied:
                continue
            self._applied[entry_id] = time.monotonic()
            new += 1
            event = revocation_event(
                user_id=user_id, token_id=token_id, issued_before=issued_before
            )
            await hub.deliver_locally(user_group(username), event)
        return new


catch_up = RevocationCatchUp()
hub.on_reconnect(catch_up.wake)
