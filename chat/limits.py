"""Frame rates per person, not per socket (PROTOCOL.md 3.2).

Counted across every socket of a user and every server process: in Redis
when the channel layer is Redis (one round trip per limited frame), in this
process otherwise (there is only one). When Redis cannot be reached the
limits fall back to this process's own count rather than refusing everyone:
an outage must not stop the chat that still works locally. Open sockets
per person are counted in ``chat.socket_counts``.
"""

import asyncio
import time
from dataclasses import dataclass

import redis

from chat.redis_scripts import (
    KEY_PREFIX,
    REDIS_TIMEOUT_SECONDS,
    LoopScripts,
    log_redis_fallback,
)
from chatproject.layers import redis_host, sync_redis_client


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


class Limits:
    """This process's view of the rates; one instance, :data:`limits`."""

    def __init__(self):
        self.local_rates = LocalRates()
        self._scripts = LoopScripts({"gcra": _GCRA})
        self._sync_client = None

    async def allow(self, rate: Rate, user_id: int) -> bool:
        """Whether one more frame of ``rate``'s kind from this user is allowed."""
        key = f"{KEY_PREFIX}rate:{rate.name}:{user_id}"
        if not self._scripts.ready():
            return self.local_rates.allow(rate, key)
        try:
            allowed = await asyncio.wait_for(
                self._scripts.scripts["gcra"](
                    keys=[key], args=[int(1_000_000 / rate.per_second), rate.burst]
                ),
                REDIS_TIMEOUT_SECONDS,
            )
        except (redis.RedisError, OSError, TimeoutError) as err:
            log_redis_fallback(err)
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
            log_redis_fallback(err)
            return self.local_rates.allow(rate, key)


limits = Limits()
