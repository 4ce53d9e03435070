"""Sessions that end: live expiry timers and revocation of open sockets.

A socket lives only as long as its token: it is warned before ``exp`` and
closed at ``exp``, and closed at once when its token is revoked, on every
server process (revocations travel through the channel layer).
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import async_to_sync
from django.db import transaction

from accounts.tokens import VerifiedToken
from chat.groups import user_group
from chat.hub import hub

logger = logging.getLogger(__name__)

EXPIRY_WARNING_SECONDS = 60
SESSION_REVOKE_EVENT = "session.revoke"


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
    """Whether a ``session.revoke`` event ends the socket holding ``token``."""
    if event.get("token_id") is not None:
        return event["token_id"] == token.token_id
    issued_before = event.get("issued_before")
    return issued_before is not None and token.issued_at < issued_before


# Revocations this process has started to publish. A handshake that saw no
# change across its token check and its group joins cannot have missed one
# published here (chat.consumers).
_revocations_published = 0


def revocation_mark() -> int:
    """A mark to compare later: has this process published a revocation since?"""
    return _revocations_published


def _publish_revocation(username: str, event: dict[str, Any]) -> None:
    global _revocations_published
    _revocations_published += 1
    try:
        async_to_sync(hub.publish)(user_group(username), event)
    except Exception:
        # The revocation is already stored and every new handshake and
        # request refuses the token; failing to reach live sockets must not
        # fail the logout or the admin action that caused it.
        logger.exception("could not reach the open sockets of %s", username)


def sessions_ended(sender, *, user, token_id=None, issued_before=None, **kwargs):
    """Receiver of ``accounts.signals.sessions_ended``: close the matching sockets.

    Sent after the transaction commits, so a socket is never closed for a
    revocation that was rolled back.
    """
    event = {
        "type": SESSION_REVOKE_EVENT,
        "token_id": token_id,
        "issued_before": issued_before,
    }
    username = user.username
    transaction.on_commit(lambda: _publish_revocation(username, event))
