"""The support desk across two daphne processes (PROTOCOL.md 4): conversation
frames and notes reach every admin socket on every process, never a user's,
and of two claims made at once through the two processes exactly one wins."""

import asyncio
import threading

import pytest

from tests.cluster.peer import (
    Peer,
    afetch,
    conversations_of,
    csrf_token,
    fetch_with_csrf,
)

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]

RACE_ROUNDS = 6


def conversation_url(base_url: str, username: str) -> str:
    return f"{base_url}/api/conversations/{username}"


async def patch(base_url: str, admin, username: str, body: dict):
    return await afetch(
        "PATCH",
        conversation_url(base_url, username),
        token=admin.token,
        body=body,
        csrf_from=base_url,
    )


def is_conversation(username: str, **values):
    """A test for ``Peer.wait_for``: a conversation frame of ``username`` whose
    fields have ``values``."""

    def test(frame: dict) -> bool:
        if frame["type"] != "conversation":
            return False
        body = frame["conversation"]
        return body["user"] == username and all(
            body.get(key) == value for key, value in values.items()
        )

    return test


async def close_all(*peers: Peer) -> None:
    for peer in peers:
        await peer.close()


async def test_a_claim_through_process_2_reaches_the_admin_on_process_1(
    healthy, accounts
):
    made = accounts(users=["ana"], admins=["sopa", "sopb"])
    ana, sopa, sopb = made["ana"], made["sopa"], made["sopb"]
    first, second = healthy.daphnes
    user = await Peer.opened(ana, first.url)
    admin_a = await Peer.opened(sopa, first.url)
    admin_b = await Peer.opened(sopb, second.url)
    try:
        asked = await user.send("hola", "ana-1")
        await admin_b.wait_for(lambda f: f.get("id") == asked["id"])

        claimed = await patch(
            second.url,
            sopb,
            ana.username,
            {"assignee": sopb.username, "if_assignee": None},
        )
        assert claimed.status == 200, claimed.body

        told = await admin_a.wait_for(is_conversation(ana.username))
        await admin_b.wait_for(is_conversation(ana.username))
        await user.quiet()
    finally:
        await close_all(user, admin_a, admin_b)

    body = told["conversation"]
    assert (body["assignee"], body["status"]) == (sopb.username, "open")
    assert body["last_message"]["id"] == asked["id"]
    assert "unread" not in body
    assert {key: claimed.body[key] for key in body} == body
    # Exactly once per admin socket; never on the user's.
    assert len(conversations_of(admin_a)) == len(conversations_of(admin_b)) == 1
    assert conversations_of(user) == []


async def test_a_user_s_message_on_process_1_reopens_and_process_2_hears_of_it(
    healthy, accounts
):
    made = accounts(users=["ana"], admins=["sopa", "sopb"])
    ana, sopa, sopb = made["ana"], made["sopa"], made["sopb"]
    first, second = healthy.daphnes
    user = await Peer.opened(ana, first.url)
    admin_a = await Peer.opened(sopa, first.url)
    admin_b = await Peer.opened(sopb, second.url)
    try:
        await user.send("hola", "ana-1")
        replied = await admin_a.send("dime", "sopa-1", to=ana.username)
        assert replied["type"] == "message"
        # The reply assigned the thread to sopa: told on process 2 as well.
        await admin_b.wait_for(
            is_conversation(ana.username, assignee=sopa.username, needs_reply=False)
        )
        resolved = await patch(first.url, sopa, ana.username, {"status": "resolved"})
        assert resolved.status == 200, resolved.body
        await admin_b.wait_for(is_conversation(ana.username, status="resolved"))

        again = await user.send("no funciona", "ana-2")
        reopened = await admin_b.wait_for(
            is_conversation(ana.username, status="open", needs_reply=True)
        )
        await admin_a.wait_for(is_conversation(ana.username, status="open"))
        await user.quiet()
    finally:
        await close_all(user, admin_a, admin_b)

    body = reopened["conversation"]
    assert body["assignee"] == sopa.username
    assert body["last_message"]["id"] == again["id"]
    assert body["waiting_since"] == again["sent_at"]
    assert [c["status"] for c in conversations_of(admin_b)] == [
        "open",
        "resolved",
        "open",
    ]
    assert conversations_of(user) == []


async def test_a_note_through_process_2_reaches_the_team_on_process_1_not_the_user(
    healthy, accounts
):
    made = accounts(users=["ana"], admins=["sopa", "sopb"])
    ana, sopa, sopb = made["ana"], made["sopa"], made["sopb"]
    first, second = healthy.daphnes
    user = await Peer.opened(ana, first.url)
    admin_a = await Peer.opened(sopa, first.url)
    admin_b = await Peer.opened(sopb, second.url)
    try:
        asked = await user.send("hola", "ana-1")
        await admin_b.send_frame(
            {
                "type": "send",
                "to": ana.username,
                "text": "cliente VIP",
                "note": True,
                "client_id": "note-1",
            }
        )
        note = await admin_b.wait_for(lambda f: f.get("client_id") == "note-1")
        assert note["type"] == "message", note
        seen = await admin_a.wait_for(lambda f: f.get("id") == note["id"])
        # A later ordinary message reaches the user: the note never did.
        answer = await admin_b.send("dime", "sopb-1", to=ana.username)
        await user.wait_for(lambda f: f.get("id") == answer["id"])
        await user.quiet()
        live = user.message_ids()
        # Nor does a resume hand it out.
        await user.resume(0)
    finally:
        await close_all(user, admin_a, admin_b)

    assert note["note"] is True and seen == note
    assert live == [asked["id"], answer["id"]]
    assert user.message_ids(live=False) == [asked["id"], answer["id"]]
    assert all(m["note"] is False for m in user.messages())
    # The note assigned nothing; the reply after it did (one frame).
    [told] = conversations_of(admin_a)
    assert told["assignee"] == sopb.username


async def test_two_claims_at_once_through_two_processes_one_wins(healthy, accounts):
    customers = [f"c{i}" for i in range(RACE_ROUNDS)]
    made = accounts(users=customers, admins=["sopa", "sopb"])
    sopa, sopb = made["sopa"], made["sopb"]
    first, second = healthy.daphnes
    # Half the customers have written (a thread row exists), half never did.
    for name in customers[::2]:
        writer = await Peer.opened(made[name], first.url)
        try:
            await writer.send("hola", f"{name}-1")
        finally:
            await writer.close()
    claimants = [(sopa, first.url), (sopb, second.url)]
    outcomes = []
    for name in customers:
        username = made[name].username
        csrf = [csrf_token(base_url) for _, base_url in claimants]
        barrier = threading.Barrier(len(claimants))

        def claim(admin, base_url, token, username=username, barrier=barrier):
            barrier.wait(timeout=10)
            return admin.username, fetch_with_csrf(
                "PATCH",
                conversation_url(base_url, username),
                token=admin.token,
                csrf=token,
                body={"assignee": admin.username, "if_assignee": None},
            )

        results = await asyncio.gather(
            *(
                asyncio.to_thread(claim, admin, base_url, token)
                for (admin, base_url), token in zip(claimants, csrf, strict=True)
            )
        )
        outcomes.append((name, [(who, a.status) for who, a in results]))
        statuses = sorted(answer.status for _, answer in results)
        assert statuses == [200, 409], outcomes
        [winner] = [who for who, answer in results if answer.status == 200]
        [lost] = [answer.body for _, answer in results if answer.status == 409]
        assert lost["error"] == "conflict"
        assert lost["conversation"]["assignee"] == winner
        now = await afetch(
            "GET", conversation_url(first.url, username), token=sopa.token
        )
        assert now.body["assignee"] == winner
