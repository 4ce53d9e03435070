"""Channel-layer configuration: in-memory for one process, Redis for several."""

REDIS_LAYER_BACKENDS = {
    # One Redis subscription per group per process; each process fans out
    # to its own sockets. Redis holds no state, so a restarted Redis needs
    # no repair: the layer re-subscribes by itself.
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
    # One Redis list per socket and a sorted set per group.
    "core": "channels_redis.core.RedisChannelLayer",
}


def channel_layers(
    redis_url: str | None, *, kind: str = "pubsub", max_connections: int = 1000
) -> dict:
    """The CHANNEL_LAYERS setting for ``redis_url`` (None: in-memory)."""
    if not redis_url:
        return {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    config = {
        # redis-py's default pool (100 connections) fails under load with
        # "Too many connections".
        "hosts": [{"address": redis_url, "max_connections": max_connections}],
    }
    if kind == "core":
        config |= {"capacity": 1000, "expiry": 30}
    return {"default": {"BACKEND": REDIS_LAYER_BACKENDS[kind], "CONFIG": config}}
