"""Hostile and oversized frames over real sockets: refused, never stored."""

import json
import time

import pytest
from asgiref.sync import sync_to_async

from chat.frames import CLOSE_FRAME_TOO_LARGE
from chat.limits import SEND
from chat.models import Message
from tests.conftest import token_for
from tests.integration.live.wire import frames_until_close

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

MESSAGES_AT_ONCE = 100


@sync_to_async
def stored(thread: str) -> list[tuple[str, str | None]]:
    """(text, client_id) of every stored message of ``thread``, oldest first."""
    rows = Message.objects.filter(thread__username=thread).order_by("id")
    return list(rows.values_list("text", "client_id"))


@pytest.fixture
def ana_token(user) -> str:
    return token_for(user)


def _send(text, **extra) -> str:
    return json.dumps({"type": "send", "text": text, **extra})


@pytest.mark.parametrize(
    ("frame", "code", "client_id"),
    [
        ("{not json", "bad_json", None),
        ('["send", "hola"]', "bad_frame", None),
        ('{"type": "shout", "text": "hola"}', "bad_frame", None),
        (_send(42, client_id="h-1"), "bad_frame", "h-1"),
        (_send("   ", client_id="h-2"), "empty_text", "h-2"),
        (_send("x" * 4001, client_id="h-3"), "too_long", "h-3"),
        (_send("hola", client_id="h-4").encode(), "bad_frame", None),
    ],
    ids=[
        "not_json",
        "json_array",
        "unknown_type",
        "text_as_number",
        "blank_text",
        "text_over_4000_chars",
        "binary_frame",
    ],
)
async def test_a_hostile_frame_gets_an_error_and_the_socket_stays_usable(
    sockets, ana_token, frame, code, client_id
):
    ana = await sockets.chat(ana_token)
    await ana.ws.send(frame)
    error = await ana.recv_json()
    assert error["type"] == "error"
    assert (error["code"], error["client_id"]) == (code, client_id)
    assert isinstance(error["detail"], str) and error["detail"]
    await ana.assert_quiet()

    echo = await ana.roundtrip("sigo aquí", "ok-1")
    assert echo["type"] == "message"
    assert (echo["text"], echo["client_id"]) == ("sigo aquí", "ok-1")
    assert await stored("ana") == [("sigo aquí", "ok-1")]


async def test_a_frame_over_64_kib_gets_one_closing_frame_then_4009(sockets, ana_token):
    ana = await sockets.chat(ana_token)
    await ana.ws.send(_send("x" * 80 * 1024, client_id="big"))
    frames, code = await frames_until_close(ana.ws)
    assert frames == [
        {"type": "closing", "code": CLOSE_FRAME_TOO_LARGE, "reason": "frame too large"}
    ]
    assert code == CLOSE_FRAME_TOO_LARGE
    assert await stored("ana") == []


async def test_a_burst_over_the_rate_limit_stores_exactly_the_acked_messages(
    sockets, ana_token
):
    ana = await sockets.chat(ana_token)
    client_ids = [f"r-{i:03d}" for i in range(MESSAGES_AT_ONCE)]
    started = time.monotonic()
    for client_id in client_ids:
        await ana.ws.send(_send(f"mensaje {client_id}", client_id=client_id))
    replies = await ana.read(MESSAGES_AT_ONCE)
    elapsed = time.monotonic() - started
    await ana.assert_quiet()

    acked = [r["client_id"] for r in replies if r["type"] == "message"]
    limited = [
        r["client_id"]
        for r in replies
        if r["type"] == "error" and r["code"] == "rate_limited"
    ]
    assert sorted(acked + limited) == client_ids, replies
    assert set(client_ids[: SEND.burst]) <= set(acked), "the burst is allowed"
    assert len(acked) <= SEND.burst + SEND.per_second * elapsed + 1
    assert limited, "the excess is refused"
    assert sorted(await stored("ana")) == sorted(
        (f"mensaje {client_id}", client_id) for client_id in acked
    )
