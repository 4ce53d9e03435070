"""A daphne process is killed under its clients: they come back through nginx to
another process, resume, and lose nothing."""

import asyncio
import os
import signal
import time
from dataclasses import dataclass

import pytest

from tests.cluster.peer import Dropped, Peer, afetch, open_sockets

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]

MESSAGES_EACH = 12
SEND_EVERY_SECONDS = 0.25
KILL_AFTER_SECONDS = 1.2
DIED_WITHIN_SECONDS = 5


@dataclass
class Tally:
    """What one client did: frames written, and how each message was acknowledged."""

    written: int = 0
    echoed: int = 0
    found_on_resume: int = 0


async def keep_sending(peer: Peer, sends: list[tuple[str, str | None]]) -> Tally:
    """Send each message until it is acknowledged: by its echo or, after a drop,
    by finding it in the replay of ``resume`` (then it is not sent again)."""
    tally = Tally()
    for client_id, to in sends:
        while True:
            if not peer.connected:
                await peer.reconnect()
                if peer.acked(client_id):
                    tally.found_on_resume += 1
                    break
            try:
                tally.written += 1
                answer = await peer.send(f"mensaje {client_id}", client_id, to=to)
            except Dropped:
                continue
            assert answer["type"] == "message", answer
            tally.echoed += 1
            break
        await asyncio.sleep(SEND_EVERY_SECONDS)
    return tally


async def thread_messages(base_url: str, admin, threads: list[str]) -> list[dict]:
    """Every stored message of ``threads``, through the history API."""
    messages = []
    for thread in threads:
        answer = await afetch(
            "GET", f"{base_url}/api/messages?with={thread}&limit=200", token=admin.token
        )
        assert answer.status == 200 and not answer.body["has_more"], answer.body
        messages += answer.body["messages"]
    return messages


def visible(peer: Peer, messages: list[dict]) -> set[int]:
    """Ids among ``messages`` that ``peer`` may see: admins all, users their own."""
    return {m["id"] for m in messages if peer.is_admin or m["thread"] == peer.name}


async def test_clients_of_a_killed_process_reconnect_through_nginx_and_lose_nothing(
    healthy, accounts, report
):
    made = accounts(users=["u1", "u2", "u3", "u4"], admins=["s1", "s2"])
    threads = [made[n].username for n in ("u1", "u2", "u3", "u4")]
    before = [open_sockets(d.url) for d in healthy.daphnes]
    peers = [await Peer.opened(account, healthy.url) for account in made.values()]
    on_each = [
        int(open_sockets(d.url) - b)
        for d, b in zip(healthy.daphnes, before, strict=True)
    ]
    assert sum(on_each) == len(peers) and min(on_each) >= 1, on_each
    doomed = max(on_each)
    victim = healthy.daphnes[on_each.index(doomed)]
    survivor = next(d for d in healthy.daphnes if d is not victim)
    plans = {
        peer.name: [
            (f"{peer.name}-{n}", threads[n % len(threads)] if peer.is_admin else None)
            for n in range(MESSAGES_EACH)
        ]
        for peer in peers
    }
    try:
        senders = [
            asyncio.create_task(keep_sending(peer, plans[peer.name])) for peer in peers
        ]
        await asyncio.sleep(KILL_AFTER_SECONDS)
        os.kill(victim.pid(), signal.SIGKILL)
        killed = time.monotonic()
        while victim.pid():
            assert time.monotonic() - killed < DIED_WITHIN_SECONDS
            await asyncio.sleep(0.05)
        tallies = await asyncio.gather(*senders)
        assert survivor.pid()
        assert (await afetch("GET", survivor.url + "/healthz")).status == 200
        for peer in peers:
            await peer.quiet()
        stored = await thread_messages(survivor.url, made["s1"], threads)
        missed_live = {
            peer.name: visible(peer, stored) - set(peer.message_ids()) for peer in peers
        }
        # What a page does whenever it (re)loads: resume from what it has.
        for peer in peers:
            await peer.resume(0)
    finally:
        for peer in peers:
            await peer.close()

    sent = [client_id for plan in plans.values() for client_id, _ in plan]
    assert sorted(m["client_id"] for m in stored) == sorted(sent), "lost or doubled"
    echoed = sum(t.echoed for t in tallies)
    found = sum(t.found_on_resume for t in tallies)
    assert echoed + found == len(sent)
    dropped = [peer for peer in peers if peer.drop_codes]
    assert len(dropped) == doomed, [p.name for p in dropped]
    assert all(peer.connections == 2 for peer in dropped)
    for peer in peers:
        assert not peer.live_duplicates(), (peer.name, peer.live_duplicates())
        received = set(peer.message_ids()) & {m["id"] for m in stored}
        assert received == visible(peer, stored), peer.name
    # The killed process's clients lose nothing: reconnect + resume was enough.
    for peer in dropped:
        assert not missed_live[peer.name], (peer.name, missed_live[peer.name])

    codes = sorted({int(code) for peer in dropped for code in peer.drop_codes})
    deliveries = sum(len(visible(peer, stored)) for peer in peers)
    missed = {name: len(ids) for name, ids in missed_live.items() if ids}
    report(
        f"daphne killed with {doomed} of {len(peers)} sockets on it (dropped with "
        f"close code {codes}, reconnected through nginx, resumed): sent "
        f"{len(sent)}, stored {len(stored)}, echoed {echoed} + found on resume "
        f"{found}; {sum(t.written for t in tallies)} frames written; received "
        f"{deliveries} of {deliveries} due; missed live before a final resume: "
        f"{missed or 'none'}; frames before hello: "
        f"{sum(len(p.before_hello) for p in peers)}"
    )
