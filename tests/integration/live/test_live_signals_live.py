"""The live signals over real servers (daphne on each layer, and uvicorn):
presence after hello and on every change, availability, typing, ping."""

import pytest

from accounts.models import Role
from tests.conftest import token_for

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def people(make_user) -> dict[str, str]:
    made = [
        make_user("ana", name="Ana García"),
        make_user("sofia", role=Role.ADMIN, name="Sofía"),
    ]
    return {user.username: token_for(user) for user in made}


def own_status(frame: dict, username: str) -> str:
    return next(m["status"] for m in frame["team"] if m["user"] == username)


async def test_presence_typing_and_ping_over_a_real_server(sockets, people):
    ana = await sockets.chat(people["ana"])
    assert await ana.next_presence() == {"type": "presence", "team_status": "offline"}

    sofia = await sockets.chat(people["sofia"])
    assert own_status(await sofia.next_presence(), "sofia") == "online"
    assert await ana.next_presence() == {"type": "presence", "team_status": "online"}

    await sofia.send_json({"type": "availability", "status": "away"})
    assert own_status(await sofia.next_presence(), "sofia") == "away"
    assert await ana.next_presence() == {"type": "presence", "team_status": "away"}
    await sofia.send_json({"type": "availability", "status": "online"})
    assert await ana.next_presence() == {"type": "presence", "team_status": "online"}

    await ana.send_json({"type": "typing"})
    assert await sofia.recv_json() == {
        "type": "typing",
        "thread": "ana",
        "user": "ana",
        "name": "Ana García",
        "rol": "user",
        "note": False,
    }
    await sofia.send_json({"type": "typing", "thread": "ana", "note": True})
    await ana.send_json({"type": "ping"})
    # The note's typing never reaches Ana: her next frame is the pong.
    assert await ana.recv_json() == {"type": "pong"}

    await sofia.ws.close()
    assert await ana.next_presence() == {"type": "presence", "team_status": "offline"}
