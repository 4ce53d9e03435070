"""Limits per person, not per socket: frame rates, open sockets (PROTOCOL.md 3.1-3.2).

Counted across every socket of a user and every server process: in Redis
when the channel layer is Redis (one round trip per limited frame), in this
process otherwise (there is only one). When Redis cannot be reached the
limits fall back to this process's own count rather than refusing everyone:
an outage must not stop the chat that still works locally.
"""

import asyncio
import logging
import time
from dataclasses import dataclass

import redis
from channels_redis.utils import create_pool
from django.conf import settings
from redis import asyncio as aioredis

from chat.hub import hub
from chatproject.layers import redis_host, sync_redis_client

logger = logging.getLogger(__name__)

KEY_PREFIX = "chat:"
# A process that stops refreshing its mark (it died) no longer counts
# towards anyone's sockets after this long.
PROCESS_TTL_SECONDS = 30
PROCESS_HEARTBEAT_SECONDS = 10
REDIS_TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True)
class Rate:
    """``per_second`` sustained, ``burst`` at once (a token bucket, as GCRA)."""

    name: str
    per_second: float
    burst: int


SEND = Rate("send", 10.0, 20)
RESUME = Rate("resume", 2.0, 5)
# read and typing: over this, frames are dropped without a word.
SIGNALS = Rate("signals", 5.0, 5)


class LocalRates:
    """GCRA in this process: key -> theoretical arrival time (monotonic)."""

    MAX_KEYS = 100_000

    def __init__(self):
        self._due: dict[str, float] = {}

    def allow(self, rate: Rate, key: str) -> bool:
        now = time.monotonic()
        interval = 1.0 / rate.per_second
        due = max(self._due.get(key, now), now) + interval
        if due - now > rate.burst * interval:
            return False
        if len(self._due) >= self.MAX_KEYS:
            # Entries in the past say nothing a missing entry would not.
            self._due = {k: v for k, v in self._due.items() if v > now}
        self._due[key] = due
        return True


# GCRA in Redis, on Redis' own clock so that processes' clocks need not agree.
# KEYS[1]: the bucket; ARGV: interval (µs), burst. Returns 1 when allowed.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local due = tonumber(redis.call('GET', KEYS[1]) or now)
if due < now then due = now end
due = due + interval
if due - now > burst * interval then return 0 end
redis.call('SET', KEYS[1], due, 'PX', math.ceil((due - now) / 1000) + 1)
return 1
"""

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
_GIVE_SOCKET = """
if redis.call('HINCRBY', KEYS[1], ARGV[1], -1) <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""


class Limits:
    """This process's view of the limits; one instance, :data:`limits`."""

    def __init__(self, process_id: str):
        self.process_id = process_id
        self.local_rates = LocalRates()
        # user id -> sockets open on this process: the truth for this process,
        # mirrored into Redis.
        self.local_sockets: dict[int, int] = {}
        self._unsynced: set[int] = set()
        self._client = None
        self._loop = None
        self._scripts = {}
        self._heartbeat: asyncio.Task | None = None
        self._key_refreshed = float("-inf")
        self._sync_client = None

    # Redis ---------------------------------------------------------------

    def _redis(self):
        """The async client for this event loop, or None with no Redis layer."""
        host = redis_host()
        if host is None:
            return None
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = aioredis.Redis(connection_pool=create_pool(host))
            self._loop = loop
            self._key_refreshed = float("-inf")
            self._scripts = {
                name: self._client.register_script(source)
                for name, source in (
                    ("gcra", _GCRA),
                    ("take", _TAKE_SOCKET),
                    ("give", _GIVE_SOCKET),
                )
            }
        return self._client

    def _process_key(self) -> str:
        return f"{KEY_PREFIX}process:{self.process_id}"

    @staticmethod
    def _sockets_key(user_id: int) -> str:
        return f"{KEY_PREFIX}sockets:{user_id}"

    # Rates ---------------------------------------------------------------

    async def allow(self, rate: Rate, user_id: int) -> bool:
        """Whether one more frame of ``rate``'s kind from this user is allowed."""
        key = f"{KEY_PREFIX}rate:{rate.name}:{user_id}"
        if self._redis() is None:
            return self.local_rates.allow(rate, key)
        try:
            allowed = await asyncio.wait_for(
                self._scripts["gcra"](
                    keys=[key], args=[int(1_000_000 / rate.per_second), rate.burst]
                ),
                REDIS_TIMEOUT_SECONDS,
            )
        except (redis.RedisError, OSError, TimeoutError) as err:
            _log_fallback(err)
            return self.local_rates.allow(rate, key)
        return bool(allowed)

    def allow_sync(self, rate: Rate, key: str) -> bool:
        """:meth:`allow` for sync code (HTTP views), keyed by any string."""
        key = f"{KEY_PREFIX}rate:{rate.name}:{key}"
        if redis_host() is None:
            return self.local_rates.allow(rate, key)
        if self._sync_client is None:
            self._sync_client = sync_redis_client(REDIS_TIMEOUT_SECONDS)
        try:
            return bool(
                self._sync_client.eval(
                    _GCRA, 1, key, int(1_000_000 / rate.per_second), rate.burst
                )
            )
        except (redis.RedisError, OSError) as err:
            _log_fallback(err)
            return self.local_rates.allow(rate, key)

    # Sockets -------------------------------------------------------------

    async def take_socket(self, user_id: int) -> bool:
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
                self._scripts["take"](
                    keys=[self._sockets_key(user_id)],
                    args=[self.process_id, maximum, f"{KEY_PREFIX}process:"],
                ),
                REDIS_TIMEOUT_SECONDS,
            )
        except (redis.RedisError, OSError, TimeoutError) as err:
            _log_fallback(err)
            self._unsynced.add(user_id)
            return True
        self._ensure_heartbeat()
        if before < 0:
            self._release_local(user_id)
            return False
        return True

    async def give_socket(self, user_id: int) -> None:
        """A socket counted by :meth:`take_socket` closed."""
        self._release_local(user_id)
        if self._redis() is None:
            return
        try:
            await asyncio.wait_for(
                self._scripts["give"](
                    keys=[self._sockets_key(user_id)], args=[self.process_id]
                ),
                REDIS_TIMEOUT_SECONDS,
            )
        except (redis.RedisError, OSError, TimeoutError) as err:
            _log_fallback(err)
            self._unsynced.add(user_id)

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
            self._client.set(self._process_key(), 1, ex=PROCESS_TTL_SECONDS),
            REDIS_TIMEOUT_SECONDS,
        )
        self._key_refreshed = time.monotonic()

    def _ensure_heartbeat(self) -> None:
        task = self._heartbeat
        if task is None or task.done() or task.get_loop() is not self._loop:
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
                        await self._client.hset(key, self.process_id, count)
                    else:
                        await self._client.hdel(key, self.process_id)
                    self._unsynced.discard(user_id)
            except (redis.RedisError, OSError, TimeoutError) as err:
                _log_fallback(err)


_last_fallback_log = 0.0


def _log_fallback(err: BaseException) -> None:
    # One line a minute at most: during an outage every frame would log.
    global _last_fallback_log
    now = time.monotonic()
    if now - _last_fallback_log > 60:
        _last_fallback_log = now
        logger.warning(
            "limits counted in this process only: Redis unavailable (%s: %s)",
            type(err).__name__,
            err,
        )


limits = Limits(hub.origin)
