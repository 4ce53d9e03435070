"""Two daphne processes on one Redis and one PostgreSQL, with nginx in front."""

import asyncio
import time

import pytest

from tests.cluster.conftest import run_script
from tests.cluster.peer import Peer, afetch, fetch, open_sockets

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]

CLOSE_WITHIN_SECONDS = 2


async def test_a_user_on_process_1_and_admins_on_process_2_chat_both_ways_once(
    healthy, accounts, report
):
    made = accounts(users=["ana"], admins=["sop1", "sop2"])
    first, second = healthy.daphnes
    ana = await Peer.opened(made["ana"], first.url)
    sop1 = await Peer.opened(made["sop1"], second.url)
    sop2 = await Peer.opened(made["sop2"], second.url)
    peers = (ana, sop1, sop2)
    try:
        asked = await ana.send("¿hay alguien?", "ana-1")
        assert asked["type"] == "message"
        # The admin answers what they saw: the question crosses to process 2 first.
        await sop1.wait_for(lambda f: f.get("id") == asked["id"])
        answered = await sop1.send("sí, dime", "sop1-1", to=made["ana"].username)
        assert answered["type"] == "message"
        for peer in peers:
            await peer.wait_for(lambda f: f.get("id") == answered["id"])
        await ana.quiet()
        for peer in peers:
            assert peer.message_ids() == [asked["id"], answered["id"]], peer.name
        assert sop2.messages()[0] == asked
        assert ana.messages()[1] == answered
    finally:
        for peer in peers:
            await peer.close()
    report(
        "two processes: 2 messages sent, each received exactly once by each of "
        "3 sockets (user on process 1, two admins on process 2)"
    )


async def test_a_logout_on_process_2_closes_the_socket_on_process_1_with_4005(
    healthy, accounts
):
    made = accounts(users=["ana"])
    first, second = healthy.daphnes
    ana = await Peer.opened(made["ana"], first.url)
    started = time.monotonic()
    answer = await afetch(
        "POST",
        second.url + "/api/auth/logout",
        token=made["ana"].token,
        body={},
        csrf_from=second.url,
    )
    assert answer.status == 204, answer.body
    closing = await ana.wait_for(lambda f: f["type"] == "closing", CLOSE_WITHIN_SECONDS)
    assert closing == {"type": "closing", "code": 4005, "reason": "session revoked"}
    assert await ana.closed(CLOSE_WITHIN_SECONDS) == 4005
    assert time.monotonic() - started <= CLOSE_WITHIN_SECONDS
    assert fetch("GET", first.url + "/api/me", token=made["ana"].token).status == 403


async def test_the_first_frame_of_a_new_socket_is_hello_even_while_messages_flow(
    healthy, accounts, report
):
    """PROTOCOL.md 3.1: hello first. Busy groups make a frame slipped in before
    the hello likely; a correct server never sends one."""
    made = accounts(users=["u1", "u2", "u3", "u4"], admins=["sop"])
    senders = [
        await Peer.opened(made[n], healthy.daphnes[0].url) for n in made if n != "sop"
    ]

    async def chatter(peer: Peer) -> None:
        for n in range(30):
            await peer.send(f"mensaje {n}", f"{peer.name}-{n}")
            await asyncio.sleep(0.1)

    busy = [asyncio.create_task(chatter(peer)) for peer in senders]
    early = []
    opened = 0
    try:
        while not all(task.done() for task in busy):
            for daphne in healthy.daphnes:
                newcomer = Peer(made["sop"], daphne.url)
                first = await newcomer.connect()
                await newcomer.close()
                opened += 1
                assert first["type"] == "hello", first
                if newcomer.before_hello:
                    early.append((daphne.name, newcomer.before_hello[0]))
        await asyncio.gather(*busy)
    finally:
        for task in busy:
            task.cancel()
        for peer in senders:
            await peer.close()
    report(
        f"hello first: {len(early)} of {opened} new admin sockets had a frame before it"
    )
    assert not early, f"a frame before hello on {len(early)} of {opened}: {early[:3]}"


async def test_nginx_upgrades_websockets_and_spreads_them_over_both_processes(
    healthy, accounts
):
    made = accounts(users=["u1", "u2", "u3", "u4"])
    before = [open_sockets(d.url) for d in healthy.daphnes]
    peers = [await Peer.opened(account, healthy.url) for account in made.values()]
    try:
        after = [open_sockets(d.url) for d in healthy.daphnes]
        grew = [b - a for a, b in zip(before, after, strict=True)]
        assert sum(grew) == 4 and min(grew) >= 1, grew
    finally:
        for peer in peers:
            await peer.close()


def test_metrics_are_refused_through_nginx_and_served_on_each_process_port(healthy):
    assert fetch("GET", healthy.url + "/metrics").status == 403
    for daphne in healthy.daphnes:
        answer = fetch("GET", daphne.url + "/metrics")
        assert answer.status == 200 and "chat_open_sockets" in answer.body


def test_signing_in_through_nginx_sets_the_cookie_the_api_accepts(healthy, accounts):
    made = accounts(users=["ana"], password="a long passphrase for ana")
    answer = fetch(
        "POST",
        healthy.url + "/api/auth/login",
        body={
            "username": made["ana"].username,
            "password": "a long passphrase for ana",
        },
        csrf_from=healthy.url,
    )
    assert answer.status == 200, answer.body
    me = fetch("GET", healthy.url + "/api/me", token=answer.cookies["token"])
    assert me.status == 200 and me.body["user"] == made["ana"].username


def test_starting_a_running_cluster_says_so_and_starts_nothing(healthy):
    pids = [part.pid() for part in healthy.parts]
    output = run_script("start")
    assert "cluster already running" in output
    assert [part.pid() for part in healthy.parts] == pids
