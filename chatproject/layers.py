"""Channel-layer configuration: in-memory for one process, Redis for several."""

import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from redis.sentinel import Sentinel

REDIS_LAYER_BACKENDS = {
    # One Redis subscription per group per process; each process fans out
    # to its own sockets. Redis holds no state, so a restarted Redis needs
    # no repair: the layer re-subscribes by itself.
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
    # One Redis list per socket and a sorted set per group.
    "core": "channels_redis.core.RedisChannelLayer",
}


def _sentinel_host(sentinels: list[str], master: str | None) -> dict:
    """channels_redis' host entry for a Sentinel set (``host:port`` items)."""
    if not master:
        raise ImproperlyConfigured(
            "REDIS_SENTINELS is set: REDIS_SENTINEL_MASTER must name the master."
        )
    addresses = []
    for item in sentinels:
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            raise ImproperlyConfigured(
                f"REDIS_SENTINELS items must be host:port (got {item!r})."
            )
        addresses.append((host, int(port)))
    return {"sentinels": addresses, "master_name": master}


def channel_layers(
    redis_url: str | None,
    *,
    kind: str = "pubsub",
    max_connections: int = 1000,
    sentinels: list[str] | None = None,
    sentinel_master: str | None = None,
    sentinel_password: str | None = None,
    redis_password: str | None = None,
) -> dict:
    """The CHANNEL_LAYERS setting: Redis by URL or by Sentinel set, else in-memory."""
    if sentinels:
        host = _sentinel_host(sentinels, sentinel_master)
        if sentinel_password:
            host["sentinel_kwargs"] = {"password": sentinel_password}
        if redis_password:
            host["password"] = redis_password
    elif redis_url:
        host = {"address": redis_url}
    else:
        return {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    # redis-py's default pool (100 connections) fails under load with "Too
    # many connections".
    config = {"hosts": [{**host, "max_connections": max_connections}]}
    if kind == "core":
        config |= {"capacity": 1000, "expiry": 30}
    return {"default": {"BACKEND": REDIS_LAYER_BACKENDS[kind], "CONFIG": config}}


def redis_host() -> dict | None:
    """The Redis the channel layer uses (channels_redis' host entry), or None."""
    config = settings.CHANNEL_LAYERS["default"].get("CONFIG")
    return config["hosts"][0] if config else None


def sync_redis_client(timeout_seconds: float) -> redis.Redis:
    """A blocking client for the channel layer's Redis, for sync code."""
    host = dict(redis_host())
    host.pop("max_connections", None)
    options = {
        "socket_timeout": timeout_seconds,
        "socket_connect_timeout": timeout_seconds,
    }
    if "address" in host:
        return redis.Redis.from_url(host["address"], **options)
    sentinel = Sentinel(host["sentinels"], sentinel_kwargs=host.get("sentinel_kwargs"))
    return sentinel.master_for(
        host["master_name"], password=host.get("password"), **options
    )
