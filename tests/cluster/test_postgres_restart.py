"""PostgreSQL restarts: requests meanwhile fail cleanly, and the service recovers
without a restart of its own."""

import asyncio
import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.cluster.peer import Peer, afetch, fetch

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]

DOWN_SECONDS = 4
ANSWER_WITHIN_SECONDS = 5
UNAVAILABLE = 503


def assert_unavailable(answer, what: str) -> None:
    """A clean 503: the protocol's error body for API paths, and no hang."""
    assert answer.status == UNAVAILABLE, (what, answer.status, answer.body)
    assert answer.seconds < ANSWER_WITHIN_SECONDS, (what, answer.seconds)
    if "/api/" in what:
        assert answer.body["error"] == "unavailable", (what, answer.body)
        assert answer.headers.get("Retry-After"), what


async def test_requests_during_a_postgres_restart_fail_cleanly_then_recover(
    healthy, accounts, report
):
    made = accounts(users=["ana"], admins=["sop"])
    ana, sop = made["ana"], made["sop"]
    first, second = healthy.daphnes
    user_socket = await Peer.opened(ana, first.url)
    admin_socket = await Peer.opened(sop, second.url)
    checks = 0
    try:
        before = await user_socket.send("antes", "ana-before")
        await admin_socket.wait_for(lambda f: f.get("id") == before["id"])

        healthy.postgres.stop()
        down_since = time.monotonic()
        for base in (first.url, second.url, healthy.url):
            for path, token in (
                ("/api/me", ana.token),
                ("/api/messages/mine", ana.token),
                (f"/api/messages?with={ana.username}", sop.token),
                ("/api/conversations", sop.token),
                ("/support", ana.token),
            ):
                answer = await afetch("GET", base + path, token=token)
                assert_unavailable(answer, base + path)
                checks += 1
            answer = await afetch(
                "POST",
                base + "/api/auth/login",
                body={"username": ana.username, "password": "not the password"},
                csrf_from=base,
            )
            assert_unavailable(answer, base + "/api/auth/login")
            answer = await afetch(
                "POST", base + "/api/auth/logout", token=ana.token, body={},
                csrf_from=base,
            )  # fmt: skip
            assert_unavailable(answer, base + "/api/auth/logout")
            checks += 2
        for daphne in healthy.daphnes:
            assert_unavailable(await afetch("GET", daphne.url + "/readyz"), "/readyz")
            assert (await afetch("GET", daphne.url + "/healthz")).status == 200
            checks += 2

        answer = await user_socket.send("durante", "ana-during")
        assert answer["type"] == "error" and answer["code"] == "unavailable", answer
        answer = await admin_socket.send("durante", "sop-during", to=ana.username)
        assert answer["type"] == "error" and answer["code"] == "unavailable", answer
        answer = await user_socket.request(
            {"type": "resume", "after": 0}, lambda f: f["type"] in ("resumed", "error")
        )
        assert answer["type"] == "error" and answer["code"] == "unavailable", answer
        newcomer = Peer(ana, first.url)
        refused = await newcomer.connect()
        assert refused == {
            "type": "closing",
            "code": 4503,
            "reason": "service unavailable",
        }
        assert await newcomer.closed(ANSWER_WITHIN_SECONDS) == 4503
        checks += 4

        await asyncio.sleep(max(0, DOWN_SECONDS - (time.monotonic() - down_since)))
        healthy.postgres.start()

        # Back: the very first request succeeds, on every process.
        for base in (first.url, second.url, healthy.url):
            answer = await afetch("GET", base + "/api/me", token=ana.token)
            assert answer.status == 200, (base, answer.status, answer.body)
        for daphne in healthy.daphnes:
            assert (await afetch("GET", daphne.url + "/readyz")).status == 200
        after = await user_socket.send("después", "ana-after")
        assert after["type"] == "message", after
        await admin_socket.wait_for(lambda f: f.get("id") == after["id"])
        reply = await admin_socket.send("de vuelta", "sop-after", to=ana.username)
        assert reply["type"] == "message", reply
        await user_socket.wait_for(lambda f: f.get("id") == reply["id"])
        again = Peer(ana, first.url)
        assert (await again.connect())["type"] == "hello"
        await again.close()
        assert user_socket.connected and admin_socket.connected
        # Refused means not stored: a client that sends again makes no double.
        history = await afetch(
            "GET", f"{second.url}/api/messages?with={ana.username}", token=sop.token
        )
        assert [m["client_id"] for m in history.body["messages"]] == [
            "ana-before",
            "ana-after",
            "sop-after",
        ]
    finally:
        await user_socket.close()
        await admin_socket.close()
    for daphne in healthy.daphnes:
        assert daphne.pid(), f"{daphne.name} died"
    report(
        f"postgres restart: {checks} requests and frames during the restart, each "
        f"answered 503 / 'unavailable' / 4503 within {ANSWER_WITHIN_SECONDS} s; "
        f"first request after it succeeded"
    )


BURST_REQUESTS = 150
BURST_TIMEOUT_SECONDS = 30


def database_connections(cluster) -> int | str:
    """The connections PostgreSQL holds for the site now, or why it cannot tell."""
    postgres = cluster.postgres
    try:
        done = postgres.run(
            "psql", "-h", str(postgres.data), "-p", str(postgres.port),
            "-d", "postgres", "-tAc",
            "SELECT count(*) FROM pg_stat_activity WHERE datname = 'chat'",
            capture_output=True, text=True, stdout=None,
        )  # fmt: skip
    except subprocess.CalledProcessError as err:
        return (
            "all (psql refused: too many clients)" if "too many" in err.stderr else -1
        )
    return int(done.stdout.strip())


def test_a_burst_of_api_requests_does_not_run_postgres_out_of_connections(
    healthy, accounts, report
):
    """150 requests at once over two processes are all served: each process
    bounds its database connections (PostgreSQL allows 100 by default)."""
    sop = accounts(admins=["sop"])["sop"]
    urls = [d.url + "/api/conversations" for d in healthy.daphnes]
    peak = [database_connections(healthy)]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak.append(database_connections(healthy))

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with ThreadPoolExecutor(max_workers=BURST_REQUESTS) as pool:
            answers = list(
                pool.map(
                    lambda n: fetch("GET", urls[n % len(urls)], token=sop.token),
                    range(BURST_REQUESTS),
                    timeout=BURST_TIMEOUT_SECONDS,
                )
            )
    finally:
        done.set()
        sampler.join(timeout=10)
        # Connections left by the burst's threads stay open until those are
        # garbage-collected; fresh processes give the next tests a usable database.
        for daphne in healthy.daphnes:
            daphne.stop()
            daphne.start()
    statuses = Counter(answer.status for answer in answers)
    counted = [n for n in peak if isinstance(n, int)]
    most = (
        max(counted)
        if len(counted) == len(peak)
        else next(n for n in peak if isinstance(n, str))
    )
    report(
        f"burst: {BURST_REQUESTS} concurrent API requests over 2 processes -> "
        f"{dict(statuses)}; PostgreSQL connections at most: {most}"
    )
    assert statuses == {200: BURST_REQUESTS}, (statuses, most)
