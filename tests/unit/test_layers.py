"""The channel-layer setting: in-memory, Redis by URL, Redis through Sentinel."""

import pytest
from channels_redis.utils import create_pool
from django.core.exceptions import ImproperlyConfigured
from redis.asyncio.sentinel import SentinelConnectionPool

from chatproject.layers import channel_layers


def test_no_redis_means_the_in_memory_layer():
    assert channel_layers(None)["default"]["BACKEND"].endswith("InMemoryChannelLayer")


def test_a_redis_url_gives_the_pubsub_layer_with_a_large_pool():
    config = channel_layers("rediss://r.internal:6380/0")["default"]
    assert config["BACKEND"] == "channels_redis.pubsub.RedisPubSubChannelLayer"
    assert config["CONFIG"]["hosts"] == [
        {"address": "rediss://r.internal:6380/0", "max_connections": 1000}
    ]


def test_a_sentinel_set_gives_a_host_entry_channels_redis_turns_into_a_sentinel_pool():
    config = channel_layers(
        None,
        sentinels=["s1.internal:26379", "s2.internal:26379"],
        sentinel_master="chat",
        sentinel_password="s-secret",
        redis_password="r-secret",
    )["default"]["CONFIG"]
    [host] = config["hosts"]
    assert host["sentinels"] == [("s1.internal", 26379), ("s2.internal", 26379)]
    assert isinstance(create_pool(dict(host)), SentinelConnectionPool)


@pytest.mark.parametrize(
    ("sentinels", "master"), [(["s1.internal"], "chat"), (["s1.internal:26379"], None)]
)
def test_an_incomplete_sentinel_setting_stops_start_up(sentinels, master):
    with pytest.raises(ImproperlyConfigured):
        channel_layers(None, sentinels=sentinels, sentinel_master=master)
