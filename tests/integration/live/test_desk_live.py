"""The support desk over real servers (daphne on each layer, and uvicorn):
notes reach the team only, a claim over HTTP reaches every admin socket,
search finds a message by its words without accents."""

import asyncio
from urllib.parse import quote

import pytest

from accounts.models import Role
from tests.cluster.peer import afetch
from tests.conftest import token_for

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def people(make_user) -> dict[str, str]:
    made = [
        make_user("ana", name="Ana García"),
        make_user("sofia", role=Role.ADMIN, name="Sofía"),
        make_user("luis", role=Role.ADMIN, name="Luis"),
    ]
    return {user.username: token_for(user) for user in made}


async def test_a_note_reaches_the_team_and_never_the_customer(sockets, people):
    ana = await sockets.chat(people["ana"])
    sofia = await sockets.chat(people["sofia"])
    luis = await sockets.chat(people["luis"])

    await sofia.send_json(
        {"type": "send", "to": "ana", "text": "Cliente VIP", "note": True}
    )
    at_sofia, at_luis = await asyncio.gather(sofia.read(1), luis.read(1))

    assert at_sofia == at_luis
    assert at_sofia[0]["note"] is True and at_sofia[0]["text"] == "Cliente VIP"
    await ana.assert_quiet()
    # Nor on a resume: the customer's replay holds no note.
    await ana.send_json({"type": "resume", "after": 0})
    assert await ana.read(1) == [{"type": "resumed", "last_id": 0, "has_more": False}]
    # A note assigns nobody: no conversation frame either.
    assert sofia.conversations == [] and luis.conversations == []


async def test_a_claim_over_http_reaches_every_admin_socket(
    sockets, daphne_server, people
):
    ana = await sockets.chat(people["ana"])
    sofia = await sockets.chat(people["sofia"])
    luis = await sockets.chat(people["luis"])
    await ana.send_json({"type": "send", "text": "¿Dónde está mi pedido, José?"})
    await asyncio.gather(ana.read(1), sofia.read(1), luis.read(1))

    async def claim(admin: str):
        return await afetch(
            "PATCH",
            daphne_server.http_url + "/api/conversations/ana",
            token=people[admin],
            body={"assignee": admin, "if_assignee": None},
            csrf_from=daphne_server.http_url,
        )

    claimed = await claim("luis")
    told = await asyncio.gather(sofia.conversation(), luis.conversation())
    late = await claim("sofia")

    assert claimed.status == 200, claimed.body
    assert claimed.body["assignee"] == "luis" and claimed.body["needs_reply"] is True
    assert told[0] == told[1]
    assert (told[0]["assignee"], told[0]["assignee_name"]) == ("luis", "Luis")
    assert "unread" not in told[0]
    assert late.status == 409 and late.body["conversation"]["assignee"] == "luis"
    await ana.assert_quiet()


async def test_search_finds_a_message_without_its_accents(
    sockets, daphne_server, people
):
    ana = await sockets.chat(people["ana"])
    sent = await ana.roundtrip("Soy José, el pedido llegó roto", "c-1")

    found = await afetch(
        "GET",
        daphne_server.http_url + "/api/conversations?q=" + quote("jose llego"),
        token=people["sofia"],
    )

    assert found.status == 200, found.body
    [row] = found.body["conversations"]
    assert row["user"] == "ana" and row["match"]["id"] == sent["id"]
