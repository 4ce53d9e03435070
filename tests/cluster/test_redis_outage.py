"""Redis stops for 10 s and returns: nothing crashes, nothing is lost."""

import asyncio
import time

import pytest

from tests.cluster.peer import Dropped, Peer, afetch

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]

OUTAGE_SECONDS = 10
SEND_EVERY_SECONDS = 1.0
RECOVER_WITHIN_SECONDS = 20


async def stored_ids(base_url: str, admin_token: str, thread: str) -> list[int]:
    """Ids of every stored message in ``thread``, through the history API."""
    answer = await afetch(
        "GET", f"{base_url}/api/messages?with={thread}&limit=200", token=admin_token
    )
    assert answer.status == 200, answer.body
    assert not answer.body["has_more"]
    return [message["id"] for message in answer.body["messages"]]


async def assert_processes_live_and_not_ready(cluster) -> None:
    """Every daphne runs and answers /healthz 200 and /readyz 503, promptly."""
    for daphne in cluster.daphnes:
        assert daphne.pid(), f"{daphne.name} died"
        assert (await afetch("GET", daphne.url + "/healthz")).status == 200
        readyz = await afetch("GET", daphne.url + "/readyz")
        assert readyz.status == 503, readyz.body
        assert readyz.seconds < 5


async def test_a_redis_outage_of_10_s_loses_nothing_and_delivery_resumes(
    healthy, accounts, report
):
    made = accounts(users=["ana", "luis"], admins=["sop"])
    first, second = healthy.daphnes
    users = {name: await Peer.opened(made[name], first.url) for name in ("ana", "luis")}
    sop = await Peer.opened(made["sop"], second.url)
    peers = [*users.values(), sop]
    answers: dict[str, dict] = {}  # by client_id, in sending order

    async def send(peer: Peer, phase: str, to: str | None = None) -> dict:
        """Send; the answer must come (echo or error), silence fails the test."""
        client_id = f"{peer.name}-{phase}-{len(answers)}"
        answers[client_id] = await peer.send(phase, client_id, to=to)
        return answers[client_id]

    try:
        for user in users.values():
            before = await send(user, "before")
            await sop.wait_for(lambda f, i=before["id"]: f.get("id") == i)
        last_before_outage = sop.last_id()

        healthy.redis.stop()
        outage_started = time.monotonic()
        newcomer_got = None
        while time.monotonic() - outage_started < OUTAGE_SECONDS:
            for name, user in users.items():
                await send(user, "during")
                await send(sop, "during", to=made[name].username)
            if newcomer_got is None:
                await assert_processes_live_and_not_ready(healthy)
                # A handshake meanwhile is answered too: hello, or 4503.
                newcomer = Peer(made["ana"], second.url)
                first = await newcomer.connect()
                await newcomer.close()
                newcomer_got = first.get("code", first["type"])
                assert newcomer_got in ("hello", 4503), first
            await asyncio.sleep(SEND_EVERY_SECONDS)
        await assert_processes_live_and_not_ready(healthy)
        healthy.redis.start()

        recovered = time.monotonic()
        for daphne in healthy.daphnes:
            while (await afetch("GET", daphne.url + "/readyz")).status != 200:
                assert time.monotonic() - recovered < RECOVER_WITHIN_SECONDS
                await asyncio.sleep(0.2)
        # Live delivery comes back by itself: no reconnect, no resume.
        while True:
            after = await send(users["ana"], "after")
            try:
                await sop.wait_for(lambda f, i=after["id"]: f.get("id") == i, 2)
                break
            except TimeoutError:
                assert time.monotonic() - recovered < RECOVER_WITHIN_SECONDS, (
                    "live delivery did not resume"
                )
        reply = await send(sop, "after", to=made["ana"].username)
        await users["ana"].wait_for(lambda f: f.get("id") == reply["id"], 5)

        await sop.resume(last_before_outage)
        for user in users.values():
            await user.resume(0)
        for peer in peers:
            await peer.quiet()
    except Dropped as err:
        pytest.fail(f"a socket was closed by the outage: {err}")
    finally:
        for peer in peers:
            await peer.close()

    stored = {
        name: await stored_ids(second.url, made["sop"].token, made[name].username)
        for name in users
    }
    all_stored = sorted(i for ids in stored.values() for i in ids)
    echoed = [a["id"] for a in answers.values() if a["type"] == "message"]
    # Redis being down does not stop the database: every send is stored, so
    # its answer is the echo, never an error.
    errors = [a for a in answers.values() if a["type"] == "error"]
    assert not errors, errors
    assert len(answers) == len(all_stored) == len(echoed)
    assert sorted(echoed) == all_stored
    for peer in peers:
        assert not peer.live_duplicates(), (peer.name, peer.live_duplicates())
    live = set(sop.message_ids(live=True))
    resumed = set(sop.message_ids(live=False)) - live
    assert live | resumed == set(all_stored)
    for name, user in users.items():
        assert set(user.message_ids()) == set(stored[name]), name
    during = sum(1 for client_id in answers if "-during-" in client_id)
    report(
        f"redis outage ({OUTAGE_SECONDS} s): sent {len(answers)} ({during} during "
        f"the outage), stored {len(all_stored)}, echoed {len(echoed)}, errors "
        f"{len(errors)}; admin socket received {len(live)} live (its own echoes "
        f"included) + {len(resumed)} more via resume = {len(live | resumed)}; "
        f"a handshake during the outage got {newcomer_got}"
    )


# PROTOCOL.md 3.4: a revocation made while the channel layer is down.
REVOKED_WITHIN_SECONDS = 10


async def test_a_logout_while_redis_is_down_closes_the_socket_on_another_process(
    healthy, accounts, report
):
    made = accounts(users=["ana"])
    first, second = healthy.daphnes
    ana = await Peer.opened(made["ana"], second.url)
    try:
        healthy.redis.stop()
        started = time.monotonic()
        # The logout is made on the first process and stored in PostgreSQL;
        # its live announcement cannot travel: Redis is down.
        answer = await afetch(
            "POST",
            first.url + "/api/auth/logout",
            token=made["ana"].token,
            csrf_from=first.url,
        )
        assert answer.status == 204, answer.body
        code = await ana.closed(REVOKED_WITHIN_SECONDS + 5)
        took = time.monotonic() - started
        assert code == 4005
        assert took <= REVOKED_WITHIN_SECONDS
    finally:
        healthy.redis.start()
        await ana.close()
    report(f"logout during a Redis outage: the other process closed it in {took:.1f} s")
