"""What the history API and ``resume`` return equals what was delivered live."""

import pytest

from accounts.models import Role
from tests.conftest import token_for
from tests.integration.live.wire import ChatSocket, get_json

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def people(make_user) -> dict[str, str]:
    """Two users and an admin, by username, each with a fresh token."""
    made = [
        make_user("ana", name="Ana García"),
        make_user("beto", name="Beto"),
        make_user("soporte", role=Role.ADMIN, name="Soporte"),
    ]
    return {user.username: token_for(user) for user in made}


async def _send(sender: ChatSocket, text: str, client_id: str, **to: str) -> dict:
    """Post a message and return its echo, the sender's ack."""
    echo = await sender.roundtrip(text, client_id, **to)
    assert echo["type"] == "message" and echo["client_id"] == client_id, echo
    return echo


async def test_history_pages_equal_the_messages_delivered_live(
    sockets, daphne_server, people
):
    ana = await sockets.chat(people["ana"])
    support = await sockets.chat(people["soporte"])
    script = [
        (ana, "hola", "u-1", {}),
        (support, "buenas, ¿qué pasa?", "a-1", {"to": "ana"}),
        (ana, "no puedo entrar 🙁", "u-2", {}),
        (support, "ya está", "a-2", {"to": "ana"}),
    ]
    live = []
    for sender, text, client_id, to in script:
        await sender.send_json(
            {"type": "send", "text": text, "client_id": client_id, **to}
        )
        on_ana, on_support = await ana.recv_json(), await support.recv_json()
        assert on_ana == on_support
        assert (on_ana["text"], on_ana["client_id"]) == (text, client_id)
        live.append(on_ana)
    await ana.assert_quiet()
    await support.assert_quiet()

    status, mine = await get_json(
        daphne_server.http_url, "/api/messages/mine", people["ana"]
    )
    assert status == 200
    # Nobody marked anything read: no read marks either side.
    assert mine == {"messages": live, "has_more": False, "seen_up_to": None}

    status, thread = await get_json(
        daphne_server.http_url, "/api/messages?with=ana", people["soporte"]
    )
    assert status == 200
    assert thread == {"messages": live, "has_more": False, "user_seen_up_to": None}


async def test_resume_replays_exactly_the_missed_messages_in_order(sockets, people):
    ana = await sockets.chat(people["ana"])
    support = await sockets.chat(people["soporte"])
    seen = await _send(ana, "hola", "u-1")
    assert await support.recv_json() == seen
    await ana.ws.close()

    missed = [
        await _send(support, "uno", "a-1", to="ana"),
        await _send(support, "para beto", "a-2", to="beto"),
        await _send(support, "dos", "a-3", to="ana"),
        await _send(support, "tres", "a-4", to="ana"),
    ]
    await support.assert_quiet()
    anas = [m for m in missed if m["thread"] == "ana"]

    back = await sockets.chat(people["ana"])
    await back.send_json({"type": "resume", "after": seen["id"]})
    replay = await back.read_then_quiet(len(anas) + 1)
    assert replay == [
        *anas,
        {"type": "resumed", "last_id": anas[-1]["id"], "has_more": False},
    ]

    # An admin's socket sees every thread, so it replays the other one too.
    support_back = await sockets.chat(people["soporte"])
    await support_back.send_json({"type": "resume", "after": seen["id"]})
    replay = await support_back.read_then_quiet(len(missed) + 1)
    assert replay == [
        *missed,
        {"type": "resumed", "last_id": missed[-1]["id"], "has_more": False},
    ]
