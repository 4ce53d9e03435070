"""Open sockets per person, across every server process (PROTOCOL.md 3.1), and
per admin for presence (``chat.presence``).

Each process counts its own sockets and mirrors the count into Redis, in a
hash per user (process -> count) that counts a process only while its key
lives: a process that died without cleaning up stops counting within
``PROCESS_TTL_SECONDS``. When Redis cannot be reached, the process counts
alone and writes its counts back once Redis returns.
"""

import asyncio
import time

import redis
from django.conf import settings

from chat.hub import hub
from chat.redis_scripts import (
    KEY_PREFIX,
    REDIS_TIMEOUT_SECONDS,
    LoopScripts,
    log_redis_fallback,
)
from chatproject.layers import redis_host, sync_redis_client

# A process that stops refreshing its mark (it died) no longer counts
# towards anyone's sockets after this long.
PROCESS_TTL_SECONDS = 30
PROCESS_HEARTBEAT_SECONDS = 10

# Sockets of one user across processes: a hash process -> count, counted
# only while the process's own key lives. KEYS[1]: the user's hash;
# ARGV: this process, the limit, the process-key prefix. Returns the count
# before this socket, or -1 when the limit is reached.
_TAKE_SOCKET = """
local total = 0
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  if fields[i] == ARGV[1] or redis.call('EXISTS', ARGV[3] .. fields[i]) == 1 then
    total = total + tonumber(fields[i + 1])
  else
    redis.call('HDEL', KEYS[1], fields[i])
  end
end
if total >= tonumber(ARGV[2]) then return -1 end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('EXPIRE', KEYS[1], 86400)
return total
"""
# Open sockets of several users across live processes, for presence.
# KEYS: the users' hashes; ARGV[1]: the process-key prefix. Returns one
# total per key; read-only, so a dead process's count is ignored, not removed.
_SOCKET_TOTALS = """
local totals = {}
for k = 1, #KEYS do
  local total = 0
  local fields = redis.call('HGETALL', KEYS[k])
  for i = 1, #fields, 2 do
    if redis.call('EXISTS', ARGV[1] .. fields[i]) == 1 then
      total = total + tonumber(fields[i + 1])
    end
  end
  totals[k] = total
end
return totals
"""
_GIVE_SOCKET = """
if redis.call('HINCRBY', KEYS[1], ARGV[1], -1) <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""


class SocketCounts:
    """This process's open sockets by user, mirrored into Redis; one instance,
    :data:`socket_counts`."""

    def __init__(self, process_id: str):
        self.process_id = process_id
        # user id -> sockets open on this process: the truth for this process,
        # mirrored into Redis.
        self.local_sockets: dict[int, int] = {}
        self._unsynced: set[int] = set()
        self._scripts = LoopScripts(
            {"take": _TAKE_SOCKET, "give": _GIVE_SOCKET, "totals": _SOCKET_TOTALS}
        )
        self._heartbeat: asyncio.Task | None = None
        self._key_refreshed = float("-inf")
        self._key_loop = None

    def _redis(self) -> LoopScripts | None:
        """The scripts for this event loop, or None with no Redis layer."""
        if not self._scripts.ready():
            return None
        loop = asyncio.get_running_loop()
        if self._key_loop is not loop:
            # A new loop (tests) may mean a new Redis: set the key again.
            self._key_loop, self._key_refreshed = loop, float("-inf")
        return self._scripts

    def _process_key(self) -> str:
        return f"{KEY_PREFIX}process:{self.process_id}"

    @staticmethod
    def _sockets_key(user_id: int) -> str:
        return f"{KEY_PREFIX}sockets:{user_id}"

    async def take(self, user_id: int) -> bool:
        """Count one more open socket of the user; False when over the limit."""
        maximum = settings.MAX_SOCKETS_PER_USER
        here = self.local_sockets.get(user_id, 0)
        if here >= maximum:
            return False
        # Counted here before the await, so concurrent handshakes on this
        # process see each other.
        self.local_sockets[user_id] = here + 1
        if self._redis() is None:
            return True
        try:
            if time.monotonic() - self._key_refreshed > PROCESS_HEARTBEAT_SECONDS:
                # Other processes count our sockets only while this key lives.
                await self._refresh_process_key()
            before = await asyncio.wait_for(
                self._scripts.scripts["take"](
                    keys=[self._sockets_key(user_id)],
                    args=[self.process_id, maximum, f"{KEY_PREFIX}process:"],
                ),
                REDIS_TIMEOUT_SECONDS,
            )
        except (redis.RedisError, OSError, TimeoutError) as err:
            log_redis_fallback(err)
            self._unsynced.add(user_id)
            return True
        self._ensure_heartbeat()
        if before < 0:
            self._release_local(user_id)
            return False
        return True

    async def give(self, user_id: int) -> None:
        """A socket counted by :meth:`take` closed."""
        self._release_local(user_id)
        if self._redis() is None:
            return
        try:
            await asyncio.wait_for(
                self._scripts.scripts["give"](
                    keys=[self._sockets_key(user_id)], args=[self.process_id]
                ),
                REDIS_TIMEOUT_SECONDS,
            )
        except (redis.RedisError, OSError, TimeoutError) as err:
            log_redis_fallback(err)
            self._unsynced.add(user_id)

    async def totals(self, user_ids: list[int]) -> dict[int, int]:
        """Open sockets of each of ``user_ids`` on every live server process.

        When Redis cannot be reached, this process's own count: better a
        partial answer than none (presence is a hint, not a permission).
        """
        if not user_ids or self._redis() is None:
            return {uid: self.local_sockets.get(uid, 0) for uid in user_ids}
        try:
            totals = await asyncio.wait_for(
                self._scripts.scripts["totals"](
                    keys=[self._sockets_key(uid) for uid in user_ids],
                    args=[f"{KEY_PREFIX}process:"],
                ),
                REDIS_TIMEOUT_SECONDS,
            )
        except (redis.RedisError, OSError, TimeoutError) as err:
            log_redis_fallback(err)
            return {uid: self.local_sockets.get(uid, 0) for uid in user_ids}
        return {
            uid: max(int(total), self.local_sockets.get(uid, 0))
            for uid, total in zip(user_ids, totals, strict=True)
        }

    def _release_local(self, user_id: int) -> None:
        left = self.local_sockets.get(user_id, 0) - 1
        if left > 0:
            self.local_sockets[user_id] = left
        else:
            self.local_sockets.pop(user_id, None)
        if not self.local_sockets and not self._unsynced and self._heartbeat:
            self._heartbeat.cancel()
            self._heartbeat = None

    async def _refresh_process_key(self) -> None:
        await asyncio.wait_for(
            self._scripts.client.set(self._process_key(), 1, ex=PROCESS_TTL_SECONDS),
            REDIS_TIMEOUT_SECONDS,
        )
        self._key_refreshed = time.monotonic()

    def _ensure_heartbeat(self) -> None:
        task = self._heartbeat
        if (
            task is None
            or task.done()
            or task.get_loop() is not asyncio.get_running_loop()
        ):
            self._heartbeat = asyncio.ensure_future(self._beat())

    async def _beat(self) -> None:
        """While this process has sockets: keep its mark alive, and write back
        the counts that changed while Redis could not be reached."""
        while self.local_sockets or self._unsynced:
            await asyncio.sleep(PROCESS_HEARTBEAT_SECONDS)
            try:
                await self._refresh_process_key()
                for user_id in tuple(self._unsynced):
                    count = self.local_sockets.get(user_id, 0)
                    key = self._sockets_key(user_id)
                    if count:
                        await self._scripts.client.hset(key, self.process_id, count)
                    else:
                        await self._scripts.client.hdel(key, self.process_id)
                    self._unsynced.discard(user_id)
            except (redis.RedisError, OSError, TimeoutError) as err:
                log_redis_fallback(err)


_sync_client = None


def open_anywhere_sync(user_id: int) -> bool | None:
    """Whether the user has a socket open on any server process, for sync code
    outside the servers (the email worker); None when that cannot be known:
    with the in-memory layer the sockets are in another process's memory."""
    global _sync_client
    if redis_host() is None:
        return None
    if _sync_client is None:
        _sync_client = sync_redis_client(REDIS_TIMEOUT_SECONDS)
    try:
        totals = _sync_client.eval(
            _SOCKET_TOTALS,
            1,
            f"{KEY_PREFIX}sockets:{user_id}",
            f"{KEY_PREFIX}process:",
        )
    except (redis.RedisError, OSError) as err:
        log_redis_fallback(err)
        return None
    return bool(totals and int(totals[0]))


socket_counts = SocketCounts(hub.origin)
