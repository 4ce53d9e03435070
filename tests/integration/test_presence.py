"""The team's presence (PROTOCOL.md 5.2) in one process, on both layers:
admins see the whole team, customers one word; availability persists; and a
customer's handshake costs presence no query."""

import pytest
from channels.db import database_sync_to_async

from accounts.models import User
from tests.integration.dbthread_helpers import QueriesOnBothThreads
from tests.integration.ws_helpers import open_chat

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("channel_layer_settings"),
]


def team(*members):
    return {
        "type": "presence",
        "team": [
            dict(zip(("user", "name", "status"), m, strict=True)) for m in members
        ],
    }


def team_status(status):
    return {"type": "presence", "team_status": status}


async def test_a_customer_hears_the_team_arrive_go_away_and_leave(
    user, admin_user, other_admin
):
    ana, _ = await open_chat(user)
    assert await ana.next_presence() == team_status("offline")
    sop, _ = await open_chat(admin_user)
    try:
        assert await ana.next_presence() == team_status("online")
        # The admin hears the whole team right after hello, themselves online.
        assert await sop.next_presence() == team(
            ("maria", "María López", "offline"), ("soporte", "Soporte", "online")
        )
        await sop.send_json_to({"type": "availability", "status": "away"})
        assert await ana.next_presence() == team_status("away")
        assert await sop.next_presence() == team(
            ("maria", "María López", "offline"), ("soporte", "Soporte", "away")
        )
        await sop.send_json_to({"type": "availability", "status": "online"})
        assert await ana.next_presence() == team_status("online")
    finally:
        await sop.disconnect()
    assert await ana.next_presence() == team_status("offline")
    assert await ana.receive_nothing(timeout=0.2) and ana.presence == []
    await ana.disconnect()


async def test_availability_is_kept_across_reconnects_and_one_away_admin_is_away(
    user, admin_user
):
    sop, _ = await open_chat(admin_user)
    await sop.next_presence()
    await sop.send_json_to({"type": "availability", "status": "away"})
    assert (await sop.next_presence())["team"][0]["status"] == "away"
    await sop.disconnect()
    stored = await database_sync_to_async(
        lambda: User.objects.get(pk=admin_user.pk).availability
    )()
    assert stored == "away"

    ana, _ = await open_chat(user)
    assert await ana.next_presence() == team_status("offline")
    again, _ = await open_chat(admin_user)
    try:
        assert await again.next_presence() == team(("soporte", "Soporte", "away"))
        assert await ana.next_presence() == team_status("away")
    finally:
        await again.disconnect()
        await ana.disconnect()


async def test_online_beats_away_and_an_admin_stays_until_their_last_socket_closes(
    user, admin_user, other_admin
):
    ana, _ = await open_chat(user)
    await ana.next_presence()
    maria, _ = await open_chat(other_admin)
    assert await ana.next_presence() == team_status("online")
    await maria.send_json_to({"type": "availability", "status": "away"})
    assert await ana.next_presence() == team_status("away")
    first, _ = await open_chat(admin_user)
    assert await ana.next_presence() == team_status("online")
    second, _ = await open_chat(admin_user)
    try:
        await first.disconnect()
        # Soporte still has a socket: nothing changes for the customer.
        assert await ana.receive_nothing(timeout=0.3) and ana.presence == []
        await second.disconnect()
        assert await ana.next_presence() == team_status("away")
    finally:
        await maria.disconnect()
        await ana.disconnect()


@pytest.mark.parametrize("status", ["busy", None, 1, ""])
async def test_an_availability_other_than_online_or_away_is_a_bad_frame(
    admin_user, status
):
    sop, _ = await open_chat(admin_user)
    try:
        await sop.send_json_to({"type": "availability", "status": status})
        error = await sop.receive_json_from(timeout=2)
        assert error["type"] == "error" and error["code"] == "bad_frame"
    finally:
        await sop.disconnect()


async def test_a_customer_has_no_availability(user, admin_user):
    ana, _ = await open_chat(user)
    try:
        await ana.send_json_to({"type": "availability", "status": "away"})
        error = await ana.receive_json_from(timeout=2)
        assert error["type"] == "error" and error["code"] == "forbidden"
        stored = await database_sync_to_async(
            lambda: User.objects.get(pk=user.pk).availability
        )()
        assert stored == "online"
    finally:
        await ana.disconnect()


async def test_a_customer_s_handshake_costs_presence_no_query(
    user, make_user, admin_user, layer_kind
):
    # The first socket of the process reads the team once; later customers
    # are told what the process already knows. A handshake looks its user
    # and token up, and on a relaying layer checks the token again once the
    # socket is in its groups: nothing else.
    handshake_queries = 2 if layer_kind == "redis" else 1
    sop, _ = await open_chat(admin_user)
    await sop.next_presence()
    luis = await database_sync_to_async(make_user)("luis")
    for customer in (user, luis):
        async with QueriesOnBothThreads() as queries:
            socket, _ = await open_chat(customer)
            assert await socket.next_presence() == team_status("online")
        assert len(queries) == handshake_queries, [q["sql"] for q in queries]
        assert all('"accounts_user"."username" =' in q["sql"] for q in queries)
        await socket.disconnect()
    await sop.disconnect()


async def test_a_deactivated_admin_leaves_the_team_at_once(admin_user, other_admin):
    sop, _ = await open_chat(admin_user)
    try:
        assert [m["user"] for m in (await sop.next_presence())["team"]] == [
            "maria",
            "soporte",
        ]

        def deactivate():
            maria = User.objects.get(pk=other_admin.pk)
            maria.is_active = False
            maria.save()

        await database_sync_to_async(deactivate)()
        assert await sop.next_presence() == team(("soporte", "Soporte", "online"))
    finally:
        await sop.disconnect()
