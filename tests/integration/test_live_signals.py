"""Typing, "seen" and ping (PROTOCOL.md 5.1, 5.3, 3.2): passed on to the right
sockets, never to the typist's own, never stored."""

import pytest
from channels.db import database_sync_to_async

from chat.models import Message, ReadState
from chat.services import message_store
from tests.integration.ws_helpers import open_chat

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("memory_layer"),
]

QUIET = 0.2


async def _open(*people):
    return [(await open_chat(person))[0] for person in people]


async def _close(*sockets):
    for socket in sockets:
        await socket.disconnect()


async def _quiet(*sockets):
    for socket in sockets:
        assert await socket.receive_nothing(timeout=QUIET)


def _counts():
    return Message.objects.count(), ReadState.objects.count()


async def test_a_customer_s_typing_reaches_the_team_and_none_of_her_sockets(
    user, admin_user, other_admin
):
    ana, ana_tab, sop, maria = await _open(user, user, admin_user, other_admin)
    stored = await database_sync_to_async(_counts)()
    try:
        await ana.send_json_to({"type": "typing", "thread": "luis"})
        expected = {
            "type": "typing",
            "thread": "ana",  # her own, whatever she names
            "user": "ana",
            "name": "Ana García",
            "rol": "user",
            "note": False,
        }
        assert await sop.receive_json_from(timeout=2) == expected
        assert await maria.receive_json_from(timeout=2) == expected
        await _quiet(ana, ana_tab)
        assert await database_sync_to_async(_counts)() == stored
    finally:
        await _close(ana, ana_tab, sop, maria)


async def test_an_admin_s_typing_reaches_the_customer_and_the_other_admins_only(
    user, admin_user, other_admin, make_user
):
    luis = await database_sync_to_async(make_user)("luis")
    ana, other, sop, sop_tab, maria = await _open(
        user, luis, admin_user, admin_user, other_admin
    )
    try:
        await sop.send_json_to({"type": "typing", "thread": "ana"})
        at_ana = await ana.receive_json_from(timeout=2)
        assert await maria.receive_json_from(timeout=2) == at_ana
        assert (at_ana["thread"], at_ana["user"], at_ana["rol"]) == (
            "ana",
            admin_user.username,
            "admin",
        )
        await _quiet(sop, sop_tab, other)
    finally:
        await _close(ana, other, sop, sop_tab, maria)


async def test_typing_a_note_never_reaches_the_customer(user, admin_user, other_admin):
    ana, sop, maria = await _open(user, admin_user, other_admin)
    try:
        await sop.send_json_to({"type": "typing", "thread": "ana", "note": True})
        assert (await maria.receive_json_from(timeout=2))["note"] is True
        await _quiet(ana, sop)
    finally:
        await _close(ana, sop, maria)


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "typing"},
        {"type": "typing", "thread": 7},
        {"type": "typing", "thread": "ana", "note": "yes"},
    ],
    ids=["no_thread", "thread_not_a_string", "note_not_a_bool"],
)
async def test_an_admin_s_malformed_typing_is_a_bad_frame(admin_user, user, frame):
    sop, ana = await _open(admin_user, user)
    try:
        await sop.send_json_to(frame)
        answer = await sop.receive_json_from(timeout=2)
        assert (answer["type"], answer["code"]) == ("error", "bad_frame")
        await _quiet(ana)
    finally:
        await _close(sop, ana)


async def test_typing_beyond_five_a_second_is_dropped_without_a_word(user, admin_user):
    ana, sop = await _open(user, admin_user)
    try:
        for _ in range(12):
            await ana.send_json_to({"type": "typing"})
        got = 0
        while not await sop.receive_nothing(timeout=QUIET):
            assert (await sop.receive_json_from())["type"] == "typing"
            got += 1
        assert 1 <= got <= 6
        await _quiet(ana)
    finally:
        await _close(ana, sop)


async def test_seen_goes_both_ways_and_only_forward(user, admin_user, other_admin):
    messages = [
        await database_sync_to_async(message_store)(sender=user, text=f"m{n}")
        for n in range(3)
    ]
    first, second, third = (m["id"] for m in messages)
    ana, sop, maria = await _open(user, admin_user, other_admin)
    try:
        await sop.send_json_to({"type": "read", "thread": "ana", "up_to": second})
        assert await ana.receive_json_from(timeout=2) == {
            "type": "seen",
            "thread": "ana",
            "by": "team",
            "up_to": second,
        }
        # Another admin below the team's mark: nothing new to tell.
        await maria.send_json_to({"type": "read", "thread": "ana", "up_to": first})
        await _quiet(ana)

        await ana.send_json_to({"type": "read", "thread": "ana", "up_to": third})
        told = {"type": "seen", "thread": "ana", "by": "user", "up_to": third}
        assert await sop.receive_json_from(timeout=2) == told
        assert await maria.receive_json_from(timeout=2) == told
        await ana.send_json_to({"type": "read", "thread": "ana", "up_to": second})
        await _quiet(sop, maria, ana)
    finally:
        await _close(ana, sop, maria)


async def test_a_ping_is_answered_pong(user):
    (ana,) = await _open(user)
    try:
        await ana.send_json_to({"type": "ping"})
        assert await ana.receive_json_from(timeout=2) == {"type": "pong"}
    finally:
        await _close(ana)


def test_history_pages_carry_the_other_side_s_read_mark(
    user, admin_user, other_admin, client_for
):
    asked = [message_store(sender=user, text=f"m{n}") for n in range(3)]
    answer = message_store(sender=admin_user, text="r", to="ana")
    mine, team = client_for(user), client_for(admin_user)
    assert mine.get("/api/messages/mine").json()["seen_up_to"] is None
    assert team.get("/api/messages?with=ana").json()["user_seen_up_to"] is None

    ReadState.objects.create(
        reader=admin_user, thread=user, last_read_id=asked[0]["id"]
    )
    ReadState.objects.create(
        reader=other_admin, thread=user, last_read_id=asked[2]["id"]
    )
    ReadState.objects.create(reader=user, thread=user, last_read_id=answer["id"])

    page = mine.get("/api/messages/mine").json()
    assert page["seen_up_to"] == asked[2]["id"] and "user_seen_up_to" not in page
    page = team.get("/api/messages?with=ana").json()
    assert page["user_seen_up_to"] == answer["id"] and "seen_up_to" not in page
