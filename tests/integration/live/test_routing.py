"""Delivery over real sockets: exactly once to each entitled socket."""

import asyncio

import pytest

from accounts.models import Role
from tests.conftest import token_for
from tests.integration.live.wire import ChatSocket

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def people(make_user) -> dict[str, str]:
    """Two users and two admins, by username, each with a fresh token."""
    made = [
        make_user("ana", name="Ana García"),
        make_user("beto", name="Beto"),
        make_user("soporte1", role=Role.ADMIN, name="Soporte Uno"),
        make_user("soporte2", role=Role.ADMIN, name="Soporte Dos"),
    ]
    return {user.username: token_for(user) for user in made}


async def _open(sockets, token: str, count: int) -> list[ChatSocket]:
    return [await sockets.chat(token) for _ in range(count)]


async def _each_gets_exactly(entitled: list[ChatSocket], count: int) -> list[list]:
    return await asyncio.gather(*(s.read_then_quiet(count) for s in entitled))


async def test_messages_both_ways_reach_every_entitled_socket_exactly_once(
    sockets, people
):
    ana = await _open(sockets, people["ana"], 2)
    one = await _open(sockets, people["soporte1"], 2)
    two = await _open(sockets, people["soporte2"], 2)
    (beto,) = await _open(sockets, people["beto"], 1)
    entitled = [*ana, *one, *two]

    await ana[0].send_json({"type": "send", "text": "hola", "client_id": "q-1"})
    received = await _each_gets_exactly(entitled, 1)
    question = received[0][0]
    assert question["type"] == "message"
    assert (question["thread"], question["from"], question["rol"]) == (
        "ana",
        "ana",
        "user",
    )
    assert (question["text"], question["client_id"]) == ("hola", "q-1")
    assert all(frames == [question] for frames in received)

    await one[1].send_json(
        {"type": "send", "to": "ana", "text": "te ayudo", "client_id": "r-1"}
    )
    received = await _each_gets_exactly(entitled, 1)
    reply = received[0][0]
    assert (reply["thread"], reply["from"], reply["rol"], reply["name"]) == (
        "ana",
        "soporte1",
        "admin",
        "Soporte Uno",
    )
    assert (reply["text"], reply["client_id"]) == ("te ayudo", "r-1")
    assert reply["id"] > question["id"]
    assert all(frames == [reply] for frames in received)

    await beto.assert_quiet()


@pytest.mark.parametrize(
    ("sender", "frame", "code"),
    [
        ("soporte1", {"to": "nadie"}, "unknown_user"),
        ("soporte1", {"to": "soporte2"}, "invalid_recipient"),
        ("ana", {"to": "beto"}, "invalid_recipient"),
    ],
    ids=["admin_to_unknown_user", "admin_to_admin", "user_naming_to"],
)
async def test_a_refused_recipient_is_an_error_to_the_sender_alone(
    sockets, people, sender, frame, code
):
    writer = await sockets.chat(people[sender])
    others = [
        await sockets.chat(people[name])
        for name in ("ana", "beto", "soporte1", "soporte2")
        if name != sender
    ]
    await writer.send_json(
        {"type": "send", "text": "hola", "client_id": "c-9", **frame}
    )
    error = await writer.recv_json()
    assert error["type"] == "error"
    assert (error["code"], error["client_id"]) == (code, "c-9")
    assert isinstance(error["detail"], str) and error["detail"]
    await asyncio.gather(*(s.assert_quiet() for s in [writer, *others]))
