"""Coalesced delivery (docs/api.md): a socket that connects with ``?coalesce=1``
may get a batch of messages in one ``messages`` frame; every other socket
still gets one ``message`` frame per message."""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async

from chat import frames, metrics, services
from tests.integration.ws_helpers import open_chat

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("memory_layer"),
]

USERS = 12


@pytest.fixture(autouse=True)
def wide_batches(monkeypatch):
    # Posts sent "at once" from here reach the server within a few loop
    # turns; a wide spacing puts them in one batch however slow the machine.
    monkeypatch.setattr(services.message_writer, "spacing", 0.2)


async def messages_of(
    communicator, expected: int, conversations: list | None = None
) -> tuple[list[dict], int]:
    """Read until ``expected`` messages arrived; return them and the frame count.

    ``conversation`` frames (the desk's) go to ``conversations`` when given.
    """
    messages, frame_count = [], 0
    while len(messages) < expected:
        frame = await communicator.receive_json_from(timeout=10)
        if frame["type"] == "conversation" and conversations is not None:
            conversations.append(frame["conversation"])
            continue
        frame_count += 1
        if frame["type"] == "messages":
            assert len(frame["messages"]) > 1, "a batch of one is a message frame"
            messages.extend(frame["messages"])
        else:
            assert frame["type"] == "message"
            messages.append(frame)
    while conversations is not None and not await communicator.receive_nothing(
        timeout=0.3
    ):
        frame = await communicator.receive_json_from(timeout=1)
        assert frame["type"] == "conversation", frame
        conversations.append(frame["conversation"])
    assert await communicator.receive_nothing(timeout=0.3)
    return messages, frame_count


async def test_a_coalescing_admin_gets_each_message_once_in_fewer_frames(
    make_user, admin_user
):
    users = [
        await database_sync_to_async(make_user)(f"cliente{i}") for i in range(USERS)
    ]
    sockets = [(await open_chat(user))[0] for user in users]
    coalescing, hello = await open_chat(admin_user, query="coalesce=1")
    plain, plain_hello = await open_chat(admin_user)
    assert hello["coalesce"] is True and "coalesce" not in plain_hello
    posted_before = metrics.MESSAGES_POSTED._value.get()
    batches_before = metrics.MESSAGE_BATCHES._value.get()
    try:
        # Sent in one turn of the loop: one batch, one fan-out.
        await asyncio.gather(
            *(
                socket.send_json_to({"type": "send", "text": f"hola {i}"})
                for i, socket in enumerate(sockets)
            )
        )
        coalesced, coalesced_frames = await messages_of(coalescing, USERS)
        one_by_one, plain_frames = await messages_of(plain, USERS)

        assert {m["text"] for m in coalesced} == {f"hola {i}" for i in range(USERS)}
        assert [m["id"] for m in coalesced] == [m["id"] for m in one_by_one]
        assert [m["id"] for m in coalesced] == sorted(m["id"] for m in coalesced)
        assert plain_frames == USERS
        assert coalesced_frames < USERS
        # /metrics tells the mean batch size: posted / batches.
        posted = metrics.MESSAGES_POSTED._value.get() - posted_before
        batches = metrics.MESSAGE_BATCHES._value.get() - batches_before
        assert posted == USERS
        assert 1 <= batches == coalesced_frames
        # Each sender hears back about its own message only, once.
        for i, socket in enumerate(sockets):
            echo = await socket.receive_json_from(timeout=10)
            assert echo["type"] == "message" and echo["text"] == f"hola {i}"
            assert await socket.receive_nothing(timeout=0.05)
    finally:
        for socket in [*sockets, coalescing, plain]:
            await socket.disconnect()


async def test_an_admin_reply_in_a_batch_is_echoed_once_to_a_coalescing_sender(
    user, admin_user
):
    ana, _ = await open_chat(user, query="coalesce=1")
    support, _ = await open_chat(admin_user, query="coalesce=1")
    try:
        await asyncio.gather(
            ana.send_json_to({"type": "send", "text": "pregunta", "client_id": "p"}),
            support.send_json_to(
                {"type": "send", "to": "ana", "text": "respuesta", "client_id": "r"}
            ),
        )
        at_ana, _ = await messages_of(ana, 2)
        told = []
        at_support, _ = await messages_of(support, 2, told)
        assert [m["client_id"] for m in at_ana] == ["p", "r"]
        assert at_support == at_ana
        # The reply made the admin the owner: the team is told, once.
        assert [c["assignee"] for c in told] == [admin_user.username]
    finally:
        await ana.disconnect()
        await support.disconnect()


def test_joined_frames_stay_under_the_frame_limit_and_keep_the_order():
    wires = [
        frames.encode({"type": "message", "id": i, "text": "ñ" * 3000})
        for i in range(60)
    ]
    joined = frames.messages_frames(wires)
    assert len(joined) > 1
    ids = []
    for text in joined:
        assert len(text.encode()) <= frames.MAX_FRAME_BYTES
        decoded = json.loads(text)
        batch = decoded["messages"] if decoded["type"] == "messages" else [decoded]
        ids.extend(m["id"] for m in batch)
    assert ids == list(range(60))
    assert frames.messages_frames(wires[:1]) == wires[:1]
