"""Who of the team is there (PROTOCOL.md 5.2), as every socket sees it.

An admin is ``online`` or ``away`` (their stored availability) while they
have an open socket on any server process, ``offline`` otherwise. Socket
counts across processes are the ones ``chat.socket_counts`` already keeps in Redis
(each process's share counted only while that process's key lives), so
presence adds no write per socket: each process reads the team's totals in
one Redis call when something changed, and every ``SWEEP_SECONDS`` to
notice a process that died without saying so.

A change anywhere is announced to every process as a nudge through the hub
(group ``presence``); each process then works out the team's state itself
and tells its own sockets, admins the whole team, customers one word.
Nothing here queries the database per message or per socket: the roster of
admins is read once per process per ``ROSTER_MAX_AGE_SECONDS``.
"""

import asyncio
import logging
import time
from typing import Any, Protocol

from asgiref.sync import async_to_sync
from django.db import transaction

from accounts.models import User
from chat.dbthread import db_call, db_read
from chat.frames import encode_shared
from chat.hub import hub
from chat.roster import Admin, active_admins, availability_store
from chat.socket_counts import socket_counts

logger = logging.getLogger(__name__)

PRESENCE_GROUP = "presence"
NUDGE_EVENT = "presence.nudge"
# A process that died without cleaning up stops counting after its
# process key expires (30 s); one sweep later everyone knows: within 45 s.
SWEEP_SECONDS = 15.0
ROSTER_MAX_AGE_SECONDS = 60.0

ONLINE, AWAY, OFFLINE = "online", "away", "offline"


class Listener(Protocol):
    """A socket that is told of presence: ``chat.consumers.ChatConsumer``."""

    user: User

    async def presence_signal(self, text: str) -> None: ...


def team_status_of(team: list[dict[str, str]]) -> str:
    """What a customer is told: online if anyone is, else away if anyone is."""
    statuses = {member["status"] for member in team}
    return ONLINE if ONLINE in statuses else AWAY if AWAY in statuses else OFFLINE


class Presence:
    """This process's view of the team and the sockets it tells; one instance."""

    def __init__(self):
        self.admin_sockets: dict[int, set[Listener]] = {}
        self.customer_sockets: set[Listener] = set()
        self.roster: dict[int, Admin] = {}
        self._roster_loaded_at = float("-inf")
        self._nudged_while_loading: dict[int, Admin] | None = None
        self.team_text: str | None = None
        self.team_status_text: str | None = None
        # What customers are told (online, away, offline); None while this
        # process has no view (no socket open here).
        self.team_status: str | None = None
        # Bumped whenever the sockets were told a new text.
        self._team_version = self._status_version = 0
        self._dirty = False
        self._refresher: asyncio.Task | None = None
        self._sweeper: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # Sockets -------------------------------------------------------------

    def _has_sockets(self) -> bool:
        return bool(self.admin_sockets or self.customer_sockets)

    async def socket_opened(self, socket: Listener) -> None:
        """A socket said hello: tell it the team's state, first making sure that
        state is current (an admin's first socket here changes it)."""
        user = socket.user
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # A new event loop (tests run one each): what the old one knew
            # belongs to a world that is gone.
            self.__init__()
            self._loop = loop
        if not self._has_sockets():
            await hub.join(PRESENCE_GROUP, self)
            self._ensure_sweeper()
        if user.is_support_admin:
            sockets = self.admin_sockets.setdefault(user.pk, set())
            first_here = not sockets
            # Registered at once: a close of the admin's other socket meanwhile
            # must not count them gone.
            sockets.add(socket)
            told = self._team_version
            if first_here:
                # The handshake read the user: their name and availability
                # are fresher than any roster's, and a new admin is in none.
                await self._nudge(user)
            await self.settle()
            if told == self._team_version:  # else the refresh told it already
                await _tell((socket,), self.team_text)
        else:
            self.customer_sockets.add(socket)
            told = self._status_version
            if self.team_status_text is None:
                await self.settle()
            if told == self._status_version:
                await _tell((socket,), self.team_status_text)

    async def socket_closed(self, socket: Listener) -> None:
        """A socket that :meth:`socket_opened` registered closed (its count in
        ``chat.socket_counts`` already given back)."""
        user = socket.user
        if user.is_support_admin:
            sockets = self.admin_sockets.get(user.pk)
            if sockets is None:
                return
            sockets.discard(socket)
            if sockets:
                return
            del self.admin_sockets[user.pk]
            announce = True
        else:
            self.customer_sockets.discard(socket)
            announce = False
        if not self._has_sockets():
            # Nobody here to keep the view current for: the next socket
            # works it out afresh.
            self.team_text = self.team_status_text = self.team_status = None
            await hub.leave(PRESENCE_GROUP, self)
            if self._sweeper is not None:
                self._sweeper.cancel()
                self._sweeper = None
        if announce:
            await self._nudge(user)

    # Availability ----------------------------------------------------------

    async def availability_set(self, user: User, status: str) -> None:
        """An admin chose ``status``: stored, then announced everywhere."""
        await db_call(availability_store, user.pk, status)
        user.availability = status
        await self._nudge(user)

    # Changes ----------------------------------------------------------------

    async def _nudge(self, admin: User) -> None:
        """Tell every process (this one included) to look again, with the admin
        whose sockets or availability changed as this process knows them."""
        event = {
            "type": NUDGE_EVENT,
            "admin": [admin.pk, admin.username, admin.name, admin.availability],
        }
        try:
            await hub.publish(PRESENCE_GROUP, event, wait=False)
        except Exception:
            # The sweep puts every process right within SWEEP_SECONDS.
            logger.exception("could not announce a presence change")

    async def hub_event(self, event: dict[str, Any]) -> None:
        """A nudge from this process or another."""
        if event.get("reload"):
            self._roster_loaded_at = float("-inf")
        else:
            pk, username, name, availability = event["admin"]
            # A name is one account's at a time: another entry of this name
            # is an account gone since the roster was read.
            for other in [k for k, a in self.roster.items() if a.username == username]:
                if other != pk:
                    del self.roster[other]
            self.roster[pk] = Admin(username, name, availability)
            if self._nudged_while_loading is not None:
                self._nudged_while_loading[pk] = self.roster[pk]
        self.changed()

    def changed(self) -> None:
        """Look again soon; changes arriving meanwhile are taken in one look."""
        self._dirty = True
        if self._refresher is None or self._refresher.done():
            self._refresher = asyncio.ensure_future(self._refresh_while_dirty())

    async def settle(self) -> None:
        """Return once the view includes every change known so far."""
        self.changed()
        await asyncio.shield(self._refresher)

    async def _refresh_while_dirty(self) -> None:
        while self._dirty:
            self._dirty = False
            try:
                await self._refresh()
            except Exception:
                # The next change or sweep tries again.
                logger.exception("could not work out the team's presence")

    async def _refresh(self) -> None:
        if time.monotonic() - self._roster_loaded_at > ROSTER_MAX_AGE_SECONDS:
            self._nudged_while_loading = {}
            try:
                roster = await db_read(active_admins)
            finally:
                # A nudge may be newer than what the query read.
                nudged, self._nudged_while_loading = self._nudged_while_loading, None
            self._roster_loaded_at = time.monotonic()
            self.roster = roster | nudged
        ids = list(self.roster)
        totals = await socket_counts.totals(ids)
        team = sorted(
            (
                {
                    "user": admin.username,
                    "name": admin.name,
                    "status": admin.availability if totals.get(pk) else OFFLINE,
                }
                for pk, admin in self.roster.items()
            ),
            key=lambda member: member["user"],
        )
        team_text = encode_shared({"type": "presence", "team": team})
        self.team_status = team_status_of(team)
        status_text = encode_shared(
            {"type": "presence", "team_status": self.team_status}
        )
        if team_text != self.team_text:
            self.team_text = team_text
            self._team_version += 1
            for sockets in tuple(self.admin_sockets.values()):
                await _tell(tuple(sockets), team_text)
        if status_text != self.team_status_text:
            self.team_status_text = status_text
            self._status_version += 1
            await _tell(tuple(self.customer_sockets), status_text)

    # Sweep --------------------------------------------------------------------

    def _ensure_sweeper(self) -> None:
        task = self._sweeper
        if task is None or task.done():
            self._sweeper = asyncio.ensure_future(self._sweep())

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            self.changed()


def account_changed(sender, *, token_id=None, **kwargs) -> None:
    """Receiver of ``accounts.signals.sessions_ended``: an account was
    deactivated, deleted, renamed or changed role (every session ended, not
    one token's): every process reads the roster again, once committed."""
    if token_id is None:
        transaction.on_commit(_reload_everywhere)


def _reload_everywhere() -> None:
    try:
        async_to_sync(hub.publish)(
            PRESENCE_GROUP, {"type": NUDGE_EVENT, "reload": True}
        )
    except Exception:
        # Each process reads the roster again within ROSTER_MAX_AGE_SECONDS.
        logger.exception("could not ask for the team's roster to be read again")


async def _tell(sockets: tuple[Listener, ...], text: str | None) -> None:
    if text is None:
        return  # never worked out (Redis and the database down): say nothing
    for socket in sockets:
        try:
            await socket.presence_signal(text)
        except Exception:
            # One broken socket must not cost the others the news.
            logger.exception("presence to a socket of %s failed", socket.user.pk)


presence = Presence()
hub.on_reconnect(presence.changed)
