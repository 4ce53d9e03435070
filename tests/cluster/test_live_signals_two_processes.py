"""Live signals across two daphne processes on Redis (PROTOCOL.md 5): the team's
presence reaches a customer on the other process within 2 s, a killed
process's admin goes offline within 90 s, typing reaches exactly the right
sockets and writes nothing, and "seen" travels both ways, forward only."""

import asyncio
import os
import signal
import time

import psycopg
import pytest

from tests.cluster.peer import Peer

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]

SEEN_WITHIN_SECONDS = 2
OFFLINE_AFTER_KILL_WITHIN_SECONDS = 90
# Other tests' admins, or a process killed before, may still count for a while.
SETTLED_WITHIN_SECONDS = 60
ABSENT_SECONDS = 1.0


def team_status(peer: Peer) -> str | None:
    """What the customer was last told of the team."""
    told = [s.frame for s in peer.seen if s.frame["type"] == "presence"]
    return told[-1]["team_status"] if told else None


def status_of(peer: Peer, admin: str) -> str | None:
    """What the admin ``peer`` was last told of ``admin``."""
    told = [s.frame for s in peer.seen if s.frame["type"] == "presence"]
    if not told:
        return None
    return next((m["status"] for m in told[-1]["team"] if m["user"] == admin), None)


async def until(check, seconds: float) -> float:
    """Wait until ``check()`` holds; how long that took. Fails after ``seconds``."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"not within {seconds} s")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


def frames_of(peer: Peer, kind: str) -> list[dict]:
    return [s.frame for s in peer.seen if s.frame["type"] == kind]


def next_transaction_id(database_url: str) -> int:
    """The id PostgreSQL gives the next transaction that writes: unchanged
    across a stretch of time, nothing was written in it (reads take none)."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint"
        ).fetchone()
    return row[0]


async def test_a_customer_on_one_process_sees_the_team_on_the_other_come_and_go(
    healthy, accounts, report
):
    made = accounts(users=["ana"], admins=["sop"])
    one, two = healthy.daphnes
    ana = await Peer.opened(made["ana"], two.url)
    sop = None
    try:
        await until(lambda: team_status(ana) == "offline", SETTLED_WITHIN_SECONDS)
        sop = await Peer.opened(made["sop"], one.url)
        took = await until(lambda: team_status(ana) == "online", SEEN_WITHIN_SECONDS)
        assert status_of(sop, made["sop"].username) == "online"
        await sop.send_frame({"type": "availability", "status": "away"})
        away = await until(lambda: team_status(ana) == "away", SEEN_WITHIN_SECONDS)
        assert (
            await until(lambda: status_of(sop, made["sop"].username) == "away", 1) >= 0
        )
        await sop.send_frame({"type": "availability", "status": "online"})
        back = await until(lambda: team_status(ana) == "online", SEEN_WITHIN_SECONDS)
        await sop.close()
        gone = await until(lambda: team_status(ana) == "offline", SEEN_WITHIN_SECONDS)
    finally:
        await ana.close()
        if sop is not None:
            await sop.close()
    report(
        f"presence across processes: online after {took:.2f} s, away after "
        f"{away:.2f} s, back after {back:.2f} s, offline after {gone:.2f} s"
    )


async def test_availability_set_through_one_process_holds_on_the_other(
    healthy, accounts
):
    made = accounts(users=["ana"], admins=["sop"])
    one, two = healthy.daphnes
    sop = await Peer.opened(made["sop"], one.url)
    await sop.send_frame({"type": "availability", "status": "away"})
    await until(lambda: status_of(sop, made["sop"].username) == "away", 2)
    await sop.close()
    again = await Peer.opened(made["sop"], two.url)
    ana = await Peer.opened(made["ana"], one.url)
    try:
        await until(
            lambda: status_of(again, made["sop"].username) == "away",
            SEEN_WITHIN_SECONDS,
        )
        # Other admins may be online; this one is away, on either process.
        await until(lambda: team_status(ana) in ("away", "online"), 2)
    finally:
        await again.send_frame({"type": "availability", "status": "online"})
        await until(lambda: status_of(again, made["sop"].username) == "online", 2)
        await again.close()
        await ana.close()


async def test_the_admin_of_a_killed_process_goes_offline_within_90_seconds(
    healthy, accounts, report
):
    made = accounts(users=["ana"], admins=["sop"])
    victim, survivor = healthy.daphnes
    ana = await Peer.opened(made["ana"], survivor.url)
    try:
        await until(lambda: team_status(ana) == "offline", SETTLED_WITHIN_SECONDS)
        sop = await Peer.opened(made["sop"], victim.url)
        await until(lambda: team_status(ana) == "online", SEEN_WITHIN_SECONDS)
        os.kill(victim.pid(), signal.SIGKILL)
        killed = time.monotonic()
        took = await until(
            lambda: team_status(ana) == "offline", OFFLINE_AFTER_KILL_WITHIN_SECONDS
        )
        assert time.monotonic() - killed <= OFFLINE_AFTER_KILL_WITHIN_SECONDS
        assert ana.connected
    finally:
        await ana.close()
    report(f"presence: an admin of a SIGKILLed process offline after {took:.1f} s")
    del sop


async def test_typing_reaches_exactly_the_right_sockets_and_writes_nothing(
    healthy, accounts, report
):
    made = accounts(users=["ana", "luis"], admins=["sop", "mar"])
    one, two = healthy.daphnes
    ana_one = await Peer.opened(made["ana"], one.url)
    ana_two = await Peer.opened(made["ana"], two.url)
    luis = await Peer.opened(made["luis"], two.url)
    sop_one = await Peer.opened(made["sop"], one.url)
    sop_two = await Peer.opened(made["sop"], two.url)
    mar = await Peer.opened(made["mar"], two.url)
    everyone = (ana_one, ana_two, luis, sop_one, sop_two, mar)
    ana_name, sop_name = made["ana"].username, made["sop"].username
    database_url = healthy.process_env()["DATABASE_URL"]
    try:
        await asyncio.sleep(0.5)  # presence frames of the arrivals settle
        before = await asyncio.to_thread(next_transaction_id, database_url)

        # A customer's typing: to every admin socket on both processes.
        await ana_two.send_frame({"type": "typing"})
        for admin in (sop_one, sop_two, mar):
            frame = await admin.wait_for(lambda f: f["type"] == "typing")
            assert frame == {
                "type": "typing",
                "thread": ana_name,
                "user": ana_name,
                "name": ana_name.title(),
                "rol": "user",
                "note": False,
            }
        # An admin's reply typing: the other admin and the thread's customer.
        await sop_one.send_frame({"type": "typing", "thread": ana_name})
        for peer in (ana_one, ana_two, mar):
            await peer.wait_for(
                lambda f: f["type"] == "typing" and f["user"] == sop_name
            )
        # A note: the other admin only.
        await sop_one.send_frame({"type": "typing", "thread": ana_name, "note": True})
        await mar.wait_for(lambda f: f["type"] == "typing" and f["note"])
        await asyncio.sleep(ABSENT_SECONDS)

        assert len(frames_of(mar, "typing")) == 3
        assert [f["note"] for f in frames_of(ana_one, "typing")] == [False]
        assert [f["note"] for f in frames_of(ana_two, "typing")] == [False]
        assert len(frames_of(sop_one, "typing")) == 1  # Ana's, never its own
        assert len(frames_of(sop_two, "typing")) == 1  # nor another tab's of it
        assert frames_of(luis, "typing") == []
        after = await asyncio.to_thread(next_transaction_id, database_url)
    finally:
        for peer in everyone:
            await peer.close()
    assert after == before, f"{after - before} transactions wrote meanwhile"
    report("typing across processes: 7 deliveries as due, 0 database writes")


async def test_seen_travels_both_ways_across_processes_and_only_forward(
    healthy, accounts
):
    made = accounts(users=["ana"], admins=["sop"])
    one, two = healthy.daphnes
    ana = await Peer.opened(made["ana"], one.url)
    sop = await Peer.opened(made["sop"], two.url)
    ana_name = made["ana"].username
    try:
        asked = await ana.send("hola", "q1")
        reply = await sop.send("buenas", "r1", to=ana_name)
        await sop.send_frame({"type": "read", "thread": ana_name, "up_to": asked["id"]})
        seen = await ana.wait_for(lambda f: f["type"] == "seen")
        assert seen == {
            "type": "seen",
            "thread": ana_name,
            "by": "team",
            "up_to": asked["id"],
        }
        await ana.send_frame({"type": "read", "thread": ana_name, "up_to": reply["id"]})
        seen = await sop.wait_for(lambda f: f["type"] == "seen")
        assert seen == {
            "type": "seen",
            "thread": ana_name,
            "by": "user",
            "up_to": reply["id"],
        }
        # Backwards, or the same mark again: nothing is announced.
        await ana.send_frame({"type": "read", "thread": ana_name, "up_to": asked["id"]})
        await sop.send_frame({"type": "read", "thread": ana_name, "up_to": asked["id"]})
        await asyncio.sleep(ABSENT_SECONDS)
        assert len(frames_of(ana, "seen")) == 1
        assert len(frames_of(sop, "seen")) == 1
    finally:
        await ana.close()
        await sop.close()
