"""Limits per user, not per socket (PROTOCOL.md 3.1-3.2), on both channel layers.

Open sockets, `send`, `resume` and `read` are counted for the person across
all their sockets: in this process on the in-memory layer, in Redis otherwise.
"""

import asyncio
import json
import time

import pytest
import redis
from channels.db import database_sync_to_async
from django.conf import settings

from chat import socket_counts as limits_module
from chat.frames import CLOSE_TOO_MANY_CONNECTIONS
from chat.limits import RESUME, SEND, SIGNALS, LocalRates, limits
from chat.models import Message, ReadState
from tests.integration.ws_helpers import communicator_for, open_chat

pytestmark = pytest.mark.django_db(transaction=True)

TOO_MANY = {"type": "closing", "code": 4008, "reason": "too many connections"}
# Answered by one error frame with this client_id: once it arrives, every
# frame sent before it on that socket has been handled.
SENTINEL_ID = "sentinel-limits"
SENTINEL = {"type": "sentinel", "client_id": SENTINEL_ID}


@pytest.fixture(autouse=True)
def fresh_local_rates(monkeypatch):
    """The in-memory limiter outlives tests in one process: start each empty."""
    monkeypatch.setattr(limits, "local_rates", LocalRates())


@pytest.fixture
async def opened():
    """Disconnects at teardown every communicator the test registers."""
    communicators = []
    yield communicators
    for communicator in communicators:
        await communicator.disconnect()


async def open_many(user, count: int, opened: list) -> list:
    sockets = []
    for _ in range(count):
        chat, _ = await open_chat(user)
        opened.append(chat)
        sockets.append(chat)
    return sockets


async def refused_with_too_many(user, opened: list) -> bool:
    """One more socket of ``user``: True if it got the closing frame, then 4008."""
    chat = communicator_for(user)
    opened.append(chat)
    connected, _ = await chat.connect(timeout=10)
    assert connected, "the refusal is a close after accept, with the closing frame"
    first = await chat.receive_output(timeout=10)
    if json.loads(first.get("text", "{}")) != TOO_MANY:
        return False
    close = await chat.receive_output(timeout=10)
    return close == {
        "type": "websocket.close",
        "code": CLOSE_TOO_MANY_CONNECTIONS,
        "reason": "too many connections",
    }


async def answers_until_sentinel(chat) -> list[dict]:
    await chat.send_json_to(SENTINEL)
    answers = []
    while True:
        frame = await chat.receive_json_from(timeout=10)
        if frame.get("client_id") == SENTINEL_ID and frame["type"] == "error":
            return answers
        answers.append(frame)


def test_the_limits_are_the_documented_ones():
    assert settings.MAX_SOCKETS_PER_USER == 10
    assert (SEND.per_second, SEND.burst) == (10.0, 20)
    assert (RESUME.per_second, RESUME.burst) == (2.0, 5)
    assert (SIGNALS.per_second, SIGNALS.burst) == (5.0, 5)


async def test_the_eleventh_socket_of_a_user_gets_the_closing_frame_then_4008(
    user, channel_layer_settings, opened
):
    await open_many(user, 10, opened)
    assert await refused_with_too_many(user, opened)


async def test_fifteen_simultaneous_handshakes_of_a_user_open_exactly_ten(
    user, channel_layer_settings, opened
):
    sockets = [communicator_for(user) for _ in range(15)]
    opened.extend(sockets)
    await asyncio.gather(*(chat.connect(timeout=10) for chat in sockets))
    first = await asyncio.gather(*(c.receive_json_from(timeout=10) for c in sockets))

    assert sum(frame["type"] == "hello" for frame in first) == 10
    assert [frame for frame in first if frame["type"] != "hello"] == [TOO_MANY] * 5


async def test_closing_one_of_ten_sockets_frees_a_slot_for_another(
    user, channel_layer_settings, opened
):
    sockets = await open_many(user, 10, opened)
    await sockets[0].disconnect()
    opened.remove(sockets[0])
    chat, hello = await open_chat(user)
    opened.append(chat)
    assert hello["user"] == "ana"


async def test_ten_sockets_of_one_user_do_not_limit_another_user(
    user, admin_user, channel_layer_settings, opened
):
    await open_many(user, 10, opened)
    await open_many(admin_user, 10, opened)
    assert await refused_with_too_many(admin_user, opened)


async def _answers_to_own_frames(chat, own: set[str]) -> tuple[dict, dict]:
    """Read until every frame this socket sent is answered.

    Returns (client_id -> answer to it, message id -> message frame seen).
    """
    answers, seen = {}, {}
    while set(answers) != own:
        frame = await chat.receive_json_from(timeout=10)
        if frame["type"] == "message":
            assert frame["id"] not in seen, "a message delivered twice"
            seen[frame["id"]] = frame
        if frame.get("client_id") in own:
            assert frame["client_id"] not in answers, "a frame answered twice"
            answers[frame["client_id"]] = frame
    return answers, seen


async def _rest_of_messages(chat, seen: dict, total: int) -> dict:
    while len(seen) < total:
        frame = await chat.receive_json_from(timeout=10)
        assert frame["type"] == "message", frame
        assert frame["id"] not in seen, "a message delivered twice"
        seen[frame["id"]] = frame
    assert await chat.receive_nothing(timeout=0.1)
    return seen


async def test_a_burst_from_ten_sockets_of_a_user_is_limited_per_user_and_all_answered(
    user, channel_layer_settings, opened
):
    sockets = await open_many(user, 10, opened)
    sent = [{f"s{s}-{i:02d}" for i in range(20)} for s in range(len(sockets))]

    started = time.monotonic()
    await asyncio.gather(
        *(
            chat.send_json_to({"type": "send", "text": cid, "client_id": cid})
            for chat, own in zip(sockets, sent, strict=True)
            for cid in sorted(own)
        )
    )
    results = await asyncio.gather(
        *(_answers_to_own_frames(c, o) for c, o in zip(sockets, sent, strict=True))
    )
    elapsed = time.monotonic() - started

    answers = {
        cid: frame for own_answers, _ in results for cid, frame in own_answers.items()
    }
    acked = {cid for cid, frame in answers.items() if frame["type"] == "message"}
    limited = {
        cid
        for cid, frame in answers.items()
        if frame["type"] == "error" and frame["code"] == "rate_limited"
    }
    assert len(answers) == 200 and acked | limited == set(answers), answers
    assert SEND.burst <= len(acked) <= SEND.burst + SEND.per_second * elapsed + 1, (
        len(acked),
        elapsed,
    )
    stored = await database_sync_to_async(
        lambda: sorted(
            Message.objects.filter(thread=user).values_list("client_id", flat=True)
        )
    )()
    assert stored == sorted(acked), "stored exactly the acked messages"
    # Every socket of the user got every stored message, once.
    for chat, (_, seen) in zip(sockets, results, strict=True):
        everything = await _rest_of_messages(chat, seen, len(acked))
        assert {m["client_id"] for m in everything.values()} == acked


async def test_the_sixth_immediate_resume_of_a_user_is_rate_limited_and_replays_nothing(
    user, channel_layer_settings, opened
):
    first, second = await open_many(user, 2, opened)
    await first.send_json_to({"type": "send", "text": "hola", "client_id": "m-1"})
    message = await first.receive_json_from(timeout=10)
    assert message["type"] == "message"
    assert await second.receive_json_from(timeout=10) == message
    resumed = {"type": "resumed", "last_id": message["id"], "has_more": False}

    for chat in (first, first, first, second, second):
        await chat.send_json_to({"type": "resume", "after": 0})
        assert await chat.receive_json_from(timeout=10) == message
        assert await chat.receive_json_from(timeout=10) == resumed

    await first.send_json_to({"type": "resume", "after": 0})
    refused = await first.receive_json_from(timeout=10)
    assert (refused["type"], refused["code"]) == ("error", "rate_limited")
    assert await first.receive_nothing(timeout=0.2)
    assert await second.receive_nothing(timeout=0.05)


async def test_read_frames_beyond_five_a_second_are_dropped_without_a_word(
    user, channel_layer_settings, opened
):
    first, second = await open_many(user, 2, opened)

    def read(up_to: int) -> dict:
        return {"type": "read", "thread": "ana", "up_to": up_to}

    started = time.monotonic()
    for up_to in (1, 2, 3):
        await first.send_json_to(read(up_to))
    assert await answers_until_sentinel(first) == []
    for up_to in range(4, 11):
        await second.send_json_to(read(up_to))
    assert await answers_until_sentinel(second) == []
    elapsed = time.monotonic() - started

    mark = await database_sync_to_async(
        lambda: ReadState.objects.get(reader=user, thread=user).last_read_id
    )()
    # Five allowed at once, one more each 0.2 s after the first.
    assert elapsed < 1 / SIGNALS.per_second, "too slow to tell, run again"
    assert mark == SIGNALS.burst


@pytest.fixture
def redis_client(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.mark.redis
@pytest.mark.parametrize("layer_kind", ["redis"])
async def test_a_socket_count_left_by_a_dead_process_is_not_counted(
    user, channel_layer_settings, redis_client, opened
):
    key = f"{limits_module.KEY_PREFIX}sockets:{user.pk}"
    # A process that died holding ten sockets: its mark key expired.
    redis_client.hset(key, "dead-process", settings.MAX_SOCKETS_PER_USER)
    assert not redis_client.exists(f"{limits_module.KEY_PREFIX}process:dead-process")

    sockets = await open_many(user, settings.MAX_SOCKETS_PER_USER, opened)

    assert len(sockets) == settings.MAX_SOCKETS_PER_USER
    assert not redis_client.hexists(key, "dead-process")


@pytest.mark.redis
@pytest.mark.parametrize("layer_kind", ["redis"])
async def test_a_socket_count_of_another_live_process_is_counted(
    user, channel_layer_settings, redis_client, opened
):
    redis_client.hset(f"{limits_module.KEY_PREFIX}sockets:{user.pk}", "other", 9)
    redis_client.set(f"{limits_module.KEY_PREFIX}process:other", 1, ex=30)

    await open_many(user, 1, opened)

    assert await refused_with_too_many(user, opened)
