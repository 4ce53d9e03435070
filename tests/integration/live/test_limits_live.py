"""Limits per user hold across two daphne processes on one Redis (PROTOCOL 3.1-3.2)."""

import asyncio
import json
import time

import pytest
from asgiref.sync import sync_to_async

from chat.limits import SEND
from chat.models import Message
from tests.conftest import cookie_with_token, token_for
from tests.integration.live.conftest import open_socket, running_daphne
from tests.integration.live.wire import ChatSocket, frames_until_close

pytestmark = [
    pytest.mark.live,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    # Only a shared Redis counts across processes.
    pytest.mark.parametrize("daphne_server", ["redis"], indirect=True),
]

TOO_MANY = {"type": "closing", "code": 4008, "reason": "too many connections"}
FREED_WITHIN_SECONDS = 2


@pytest.fixture(scope="module")
def second_daphne(daphne_server, redis_url, tmp_path_factory):
    """Another daphne process sharing the first one's Redis and database."""
    log_path = tmp_path_factory.mktemp("daphne-limits") / "daphne.log"
    with running_daphne("redis", redis_url, log_path) as server:
        yield server


@pytest.fixture
async def opened():
    """Closes at teardown every connection the test registers."""
    connections = []
    yield connections
    for ws in connections:
        await ws.close()


async def chat_on(server, user, opened: list) -> ChatSocket:
    """A signed-in socket on ``server``, its hello read."""
    ws = await open_socket(server, cookie=cookie_with_token(token_for(user)))
    opened.append(ws)
    chat = ChatSocket(ws)
    chat.hello = await chat.recv_json()
    return chat


async def test_six_sockets_on_one_process_and_five_on_another_refuse_the_eleventh(
    daphne_server, second_daphne, user, opened
):
    for _ in range(6):
        assert (await chat_on(daphne_server, user, opened)).hello["type"] == "hello"
    for _ in range(4):
        assert (await chat_on(second_daphne, user, opened)).hello["type"] == "hello"

    eleventh = await open_socket(
        second_daphne, cookie=cookie_with_token(token_for(user))
    )
    opened.append(eleventh)
    frames, code = await frames_until_close(eleventh)

    assert frames == [TOO_MANY]
    assert code == 4008


async def test_closing_a_socket_on_one_process_frees_a_slot_on_the_other(
    daphne_server, second_daphne, user, opened
):
    first = [await chat_on(daphne_server, user, opened) for _ in range(6)]
    for _ in range(4):
        await chat_on(second_daphne, user, opened)
    await first[0].ws.close()

    # The slot is given back once the server has seen the close: retry briefly.
    deadline = time.monotonic() + FREED_WITHIN_SECONDS
    while True:
        chat = await chat_on(second_daphne, user, opened)
        if chat.hello["type"] == "hello" or time.monotonic() > deadline:
            break
        assert chat.hello == TOO_MANY
        await asyncio.sleep(0.05)
    assert chat.hello["type"] == "hello"


async def _answer_own(chat: ChatSocket, own: set[str]) -> tuple[dict, dict]:
    """Read until every frame ``chat`` sent is answered: (answers, messages seen)."""
    answers, seen = {}, {}
    while set(answers) != own:
        frame = await chat.recv_json()
        if frame["type"] == "message":
            assert frame["id"] not in seen, "a message delivered twice"
            seen[frame["id"]] = frame
        if frame.get("client_id") in own:
            assert frame["client_id"] not in answers, "a frame answered twice"
            answers[frame["client_id"]] = frame
    return answers, seen


@sync_to_async
def stored_client_ids(user) -> list[str]:
    return sorted(
        Message.objects.filter(thread=user).values_list("client_id", flat=True)
    )


async def test_the_send_limit_holds_for_one_user_across_both_processes(
    daphne_server, second_daphne, user, opened
):
    sockets = [
        await chat_on(daphne_server, user, opened),
        await chat_on(second_daphne, user, opened),
    ]
    per_socket = SEND.burst
    sent = [{f"p{p}-{i:02d}" for i in range(per_socket)} for p in range(2)]

    started = time.monotonic()
    for chat, own in zip(sockets, sent, strict=True):
        for cid in sorted(own):
            await chat.ws.send(
                json.dumps({"type": "send", "text": cid, "client_id": cid})
            )
    results = await asyncio.gather(
        *(_answer_own(chat, own) for chat, own in zip(sockets, sent, strict=True))
    )
    elapsed = time.monotonic() - started

    answers = {cid: frame for own, _ in results for cid, frame in own.items()}
    acked = {cid for cid, frame in answers.items() if frame["type"] == "message"}
    limited = {
        cid
        for cid, frame in answers.items()
        if frame["type"] == "error" and frame["code"] == "rate_limited"
    }
    assert acked | limited == set(answers) and len(answers) == 2 * per_socket
    assert SEND.burst <= len(acked) <= SEND.burst + SEND.per_second * elapsed + 1, (
        len(acked),
        elapsed,
    )
    assert await stored_client_ids(user) == sorted(acked)
    # Both sockets, on both processes, get every stored message once.
    for chat, (_, seen) in zip(sockets, results, strict=True):
        while len(seen) < len(acked):
            frame = await chat.recv_json()
            assert frame["type"] == "message" and frame["id"] not in seen, frame
            seen[frame["id"]] = frame
        assert {m["client_id"] for m in seen.values()} == acked
        await chat.assert_quiet(0.2)
