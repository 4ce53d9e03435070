"""Lua scripts on the channel layer's Redis, for state shared by every server
process (rates in ``chat.limits``, open sockets in ``chat.socket_counts``).

A script runs atomically on Redis' side, so processes never race each other
between a read and a write. With the in-memory layer there is no Redis and
one process: callers count in the process instead.
"""

import asyncio
import logging
import time

from channels_redis.utils import create_pool
from redis import asyncio as aioredis

from chatproject.layers import redis_host

logger = logging.getLogger(__name__)

KEY_PREFIX = "chat:"
REDIS_TIMEOUT_SECONDS = 1.0


class LoopScripts:
    """An async client for the running event loop, with ``sources`` registered
    by name; both made again in a new loop (tests run one each)."""

    def __init__(self, sources: dict[str, str]):
        self._sources = sources
        self.client = None
        self.scripts = {}
        self._loop = None

    def ready(self) -> bool:
        """True with a Redis layer (and the client made for this loop)."""
        host = redis_host()
        if host is None:
            return False
        loop = asyncio.get_running_loop()
        if self.client is None or self._loop is not loop:
            self.client = aioredis.Redis(connection_pool=create_pool(host))
            self._loop = loop
            self.scripts = {
                name: self.client.register_script(source)
                for name, source in self._sources.items()
            }
        return True


_last_fallback_log = 0.0


def log_redis_fallback(err: BaseException) -> None:
    """Say that Redis could not be reached and the process counts alone."""
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
