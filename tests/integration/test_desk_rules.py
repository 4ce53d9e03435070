"""The support desk's rules (PROTOCOL.md 4) through the real store and sockets:
status, assignee and waiting kept by the messages, notes the user never sees,
and ``conversation`` frames to every admin socket on each change.

Run on SQLite and, marked ``postgres``, again on PostgreSQL.
"""

import json
import time

import pytest
from channels.db import database_sync_to_async

from chat import store
from chat.inbox import conversation_of
from chat.models import Message, Thread
from chat.services import message_draft, message_store
from tests.integration.desk_helpers import CONVERSATION_KEYS
from tests.integration.ws_helpers import open_chat

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

FRAME_KEYS = CONVERSATION_KEYS - {"unread"}
RECEIVE_SECONDS = 10
# Long enough for a stray frame (a note, a conversation) to show up.
QUIET_SECONDS = 0.5


def patch(client, username: str, body: dict):
    return client.patch(
        f"/api/conversations/{username}",
        json.dumps(body),
        content_type="application/json",
    )


def state(user) -> dict:
    """The user's CONVERSATION as the team sees it (no unread count)."""
    return conversation_of(user.pk)


def desk_of(conversation: dict) -> tuple:
    """What the rules keep: status, assignee, needs_reply, waiting_since."""
    return (
        conversation["status"],
        conversation["assignee"],
        conversation["needs_reply"],
        conversation["waiting_since"],
    )


def created_at(frame: dict):
    return Message.objects.get(pk=frame["id"]).created_at


def later_instant() -> None:
    # Two messages stored a few milliseconds apart have distinct sent_at
    # (milliseconds on the wire).
    time.sleep(0.005)


# --- the rules, through chat.services.message_store (the real batch store) ---


def test_a_user_s_message_reopens_a_resolved_thread_and_keeps_its_assignee(
    user, admin_user, client_for
):
    message_store(sender=user, text="Mi pedido no llega")
    message_store(sender=admin_user, to="ana", text="Lo miro")
    assert patch(client_for(admin_user), "ana", {"status": "resolved"}).status_code == (
        200
    )
    assert state(user)["status"] == "resolved"

    again = message_store(sender=user, text="Sigue sin llegar")

    after = state(user)
    assert after["status"] == "open"
    assert after["assignee"] == "soporte"
    assert after["needs_reply"] is True
    assert after["waiting_since"] == again["sent_at"]
    assert after["last_message"] == again


def test_an_admin_s_first_reply_assigns_the_thread_and_another_admin_does_not_steal_it(
    user, admin_user, other_admin
):
    message_store(sender=user, text="Hola")
    assert state(user)["assignee"] is None

    message_store(sender=admin_user, to="ana", text="Hola, Ana")
    assigned = state(user)
    assert (assigned["assignee"], assigned["assignee_name"]) == ("soporte", "Soporte")

    message_store(sender=user, text="Gracias")
    message_store(sender=other_admin, to="ana", text="Te ayudo yo también")
    assert state(user)["assignee"] == "soporte"
    assert Thread.objects.get(user=user).assignee_id == admin_user.pk


def test_a_note_does_not_assign_but_the_next_reply_does(user, admin_user, other_admin):
    message_store(sender=user, text="Hola")
    message_store(sender=admin_user, to="ana", text="Cliente VIP", note=True)
    assert state(user)["assignee"] is None

    message_store(sender=other_admin, to="ana", text="Hola, soy María")
    assert state(user)["assignee"] == "maria"


def test_a_reply_in_a_thread_unassigned_by_hand_assigns_it_again(
    user, admin_user, other_admin, client_for
):
    message_store(sender=user, text="Hola")
    message_store(sender=admin_user, to="ana", text="Dime")
    answer = patch(client_for(admin_user), "ana", {"assignee": None})
    assert answer.status_code == 200 and answer.json()["assignee"] is None

    message_store(sender=other_admin, to="ana", text="Sigo yo")
    assert state(user)["assignee"] == "maria"


def test_a_note_changes_neither_status_nor_assignee_nor_the_wait(
    user, admin_user, other_admin, client_for
):
    # A resolved, unassigned thread whose customer waits.
    first = message_store(sender=user, text="¿Hay alguien?")
    assert patch(client_for(admin_user), "ana", {"status": "resolved"}).status_code == (
        200
    )
    before = state(user)
    assert desk_of(before) == ("resolved", None, True, first["sent_at"])

    note = message_store(sender=other_admin, to="ana", text="Revisar", note=True)

    after = state(user)
    assert desk_of(after) == desk_of(before)
    assert Thread.objects.get(user=user).waiting_since == created_at(first)
    # PROTOCOL.md 4: last_message is the newest message, notes included.
    assert after["last_message"] == note
    assert note["note"] is True


def test_a_note_in_an_answered_thread_leaves_it_answered(user, admin_user, other_admin):
    message_store(sender=user, text="Hola")
    message_store(sender=other_admin, to="ana", text="Dime")
    before = state(user)
    assert desk_of(before) == ("open", "maria", False, None)

    message_store(sender=admin_user, to="ana", text="Ya está", note=True)

    assert desk_of(state(user)) == desk_of(before)


def test_a_note_as_a_thread_s_first_message_leaves_it_open_unassigned_and_answered(
    user, admin_user
):
    note = message_store(
        sender=admin_user, to="ana", text="Llamó por teléfono", note=True
    )

    after = state(user)
    assert desk_of(after) == ("open", None, False, None)
    assert after["last_message"] == note


def test_resolving_keeps_the_assignee(user, admin_user, other_admin, client_for):
    message_store(sender=user, text="Hola")
    message_store(sender=other_admin, to="ana", text="Dime")

    resolved = patch(client_for(admin_user), "ana", {"status": "resolved"})

    assert resolved.status_code == 200
    assert (resolved.json()["status"], resolved.json()["assignee"]) == (
        "resolved",
        "maria",
    )
    assert state(user)["assignee"] == "maria"


def test_the_wait_starts_with_the_first_user_message_and_a_second_keeps_it(user):
    first = message_store(sender=user, text="Hola")
    waiting = state(user)
    assert waiting["needs_reply"] is True
    assert waiting["waiting_since"] == first["sent_at"]

    later_instant()
    second = message_store(sender=user, text="¿Hola?")

    assert second["sent_at"] != first["sent_at"]
    assert state(user)["waiting_since"] == first["sent_at"]
    assert Thread.objects.get(user=user).waiting_since == created_at(first)


def test_an_admin_reply_ends_the_wait_and_notes_change_it_neither_way(user, admin_user):
    first = message_store(sender=user, text="Hola")
    later_instant()
    message_store(sender=admin_user, to="ana", text="Mirando", note=True)
    assert state(user)["waiting_since"] == first["sent_at"]

    message_store(sender=admin_user, to="ana", text="Ya está")
    answered = state(user)
    assert (answered["needs_reply"], answered["waiting_since"]) == (False, None)
    assert Thread.objects.get(user=user).waiting_since is None

    message_store(sender=admin_user, to="ana", text="Cerrar mañana", note=True)
    assert (state(user)["needs_reply"], state(user)["waiting_since"]) == (False, None)

    later_instant()
    again = message_store(sender=user, text="Otra cosa")
    assert state(user)["waiting_since"] == again["sent_at"] != first["sent_at"]


def test_one_batch_applies_the_rules_in_id_order(user, admin_user):
    """A reply and the customer's next message stored in one transaction:
    the thread ends assigned and waiting since the customer's message."""
    reply, question = store.messages_store(
        [
            message_draft(sender=admin_user, to="ana", text="Hola, Ana"),
            message_draft(sender=user, text="Una pregunta"),
        ]
    )

    after = state(user)
    assert desk_of(after) == ("open", "soporte", True, question.frame["sent_at"])
    assert after["last_message"] == question.frame
    # The thread's one change is told once, on its last message of the batch.
    assert reply.conversation is None
    assert question.conversation is not None
    assert question.conversation["assignee"] == "soporte"


# --- notes: invisible to the user by every path -----------------------------


async def read(communicator, count: int) -> list[dict]:
    """Exactly the next ``count`` frames, then nothing more for a while."""
    frames = [
        await communicator.receive_json_from(timeout=RECEIVE_SECONDS)
        for _ in range(count)
    ]
    assert await communicator.receive_nothing(timeout=QUIET_SECONDS), (
        "a frame more than expected"
    )
    return frames


async def disconnect(*communicators) -> None:
    for communicator in communicators:
        await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("memory_layer")
async def test_a_note_reaches_every_admin_socket_live_and_never_the_user_s(
    user, admin_user, other_admin
):
    ana, _ = await open_chat(user)
    soporte, _ = await open_chat(admin_user)
    maria, _ = await open_chat(other_admin)
    try:
        await soporte.send_json_to(
            {
                "type": "send",
                "to": "ana",
                "text": "Cliente VIP",
                "note": True,
                "client_id": "n-1",
            }
        )
        [echo] = await read(soporte, 1)
        [seen] = await read(maria, 1)
        assert echo["type"] == "message" and echo["note"] is True
        assert (echo["thread"], echo["from"], echo["client_id"]) == (
            "ana",
            "soporte",
            "n-1",
        )
        assert seen == echo
        assert await ana.receive_nothing(timeout=QUIET_SECONDS)
    finally:
        await disconnect(ana, soporte, maria)
    stored = await database_sync_to_async(Message.objects.get)(pk=echo["id"])
    assert stored.note is True


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("memory_layer")
async def test_resume_replays_notes_to_admins_only(user, admin_user):
    store_ = database_sync_to_async(message_store)
    hello = await store_(sender=user, text="Hola")
    note = await store_(sender=admin_user, to="ana", text="Nota interna", note=True)
    reply = await store_(sender=admin_user, to="ana", text="Dime")
    ana, _ = await open_chat(user)
    soporte, _ = await open_chat(admin_user)
    try:
        await ana.send_json_to({"type": "resume", "after": 0})
        user_frames = await read(ana, 3)
        await soporte.send_json_to({"type": "resume", "after": 0})
        admin_frames = await read(soporte, 4)
    finally:
        await disconnect(ana, soporte)

    assert user_frames == [
        hello,
        reply,
        {"type": "resumed", "last_id": reply["id"], "has_more": False},
    ]
    assert admin_frames == [
        hello,
        note,
        reply,
        {"type": "resumed", "last_id": reply["id"], "has_more": False},
    ]


# The history endpoints read on the chat's database thread, its own
# connection: the data must be committed.
@pytest.mark.django_db(transaction=True)
def test_history_shows_notes_to_admins_only(user, admin_user, client_for):
    hello = message_store(sender=user, text="Hola")
    note = message_store(sender=admin_user, to="ana", text="Nota interna", note=True)
    reply = message_store(sender=admin_user, to="ana", text="Dime")
    last_note = message_store(sender=admin_user, to="ana", text="Otra nota", note=True)

    mine = client_for(user).get("/api/messages/mine")
    theirs = client_for(admin_user).get("/api/messages", {"with": "ana"})
    # Paging past a note from either side: still none of them.
    older = client_for(user).get("/api/messages/mine", {"before": last_note["id"]})
    newer = client_for(user).get("/api/messages/mine", {"after": hello["id"]})

    assert mine.status_code == theirs.status_code == 200
    assert mine.json()["messages"] == [hello, reply]
    assert theirs.json()["messages"] == [hello, note, reply, last_note]
    assert older.json()["messages"] == [hello, reply]
    assert newer.json()["messages"] == [reply]
    assert "Nota" not in mine.content.decode() + older.content.decode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("memory_layer")
async def test_a_user_asking_for_a_note_is_refused_and_nothing_is_stored(
    user, admin_user
):
    ana, _ = await open_chat(user)
    soporte, _ = await open_chat(admin_user)
    try:
        await ana.send_json_to(
            {"type": "send", "text": "secreto", "note": True, "client_id": "u-1"}
        )
        [refused] = await read(ana, 1)
        await ana.send_json_to(
            {"type": "send", "text": "secreto", "note": "yes", "client_id": "u-2"}
        )
        [malformed] = await read(ana, 1)
        await soporte.send_json_to(
            {
                "type": "send",
                "to": "ana",
                "text": "nota",
                "note": "yes",
                "client_id": "a-1",
            }
        )
        [admin_malformed] = await read(soporte, 1)
        assert await ana.receive_nothing(timeout=QUIET_SECONDS)
    finally:
        await disconnect(ana, soporte)

    assert (refused["type"], refused["code"], refused["client_id"]) == (
        "error",
        "forbidden",
        "u-1",
    )
    assert (malformed["type"], malformed["code"], malformed["client_id"]) == (
        "error",
        "bad_frame",
        "u-2",
    )
    assert (admin_malformed["code"], admin_malformed["client_id"]) == (
        "bad_frame",
        "a-1",
    )
    assert await database_sync_to_async(Message.objects.count)() == 0


# --- conversation frames ----------------------------------------------------


def assert_conversation_frame(frame: dict) -> dict:
    assert frame["type"] == "conversation", frame
    assert set(frame) == {"type", "conversation"}
    assert set(frame["conversation"]) == FRAME_KEYS
    return frame["conversation"]


def split(frames: list[dict]) -> tuple[list[dict], list[dict]]:
    """(message frames, conversations) in arrival order."""
    messages = [f for f in frames if f["type"] == "message"]
    conversations = [assert_conversation_frame(f) for f in frames if f not in messages]
    return messages, conversations


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("memory_layer")
async def test_a_patch_reaches_every_admin_socket_and_not_the_user_s(
    user, admin_user, other_admin, client_for
):
    await database_sync_to_async(message_store)(sender=user, text="Hola")
    client = client_for(other_admin)
    ana, _ = await open_chat(user)
    soporte, _ = await open_chat(admin_user)
    maria, _ = await open_chat(other_admin)
    try:
        claimed = await database_sync_to_async(patch)(
            client, "ana", {"assignee": "soporte"}
        )
        assert claimed.status_code == 200
        [to_soporte] = await read(soporte, 1)
        [to_maria] = await read(maria, 1)
        assert await ana.receive_nothing(timeout=QUIET_SECONDS)

        resolved = await database_sync_to_async(patch)(
            client, "ana", {"status": "resolved"}
        )
        [resolved_frame] = await read(maria, 1)
        await read(soporte, 1)

        # Nothing changes: nothing is told.
        again = await database_sync_to_async(patch)(
            client, "ana", {"status": "resolved", "assignee": "soporte"}
        )
        assert again.status_code == 200
        assert await maria.receive_nothing(timeout=QUIET_SECONDS)
        assert await ana.receive_nothing(timeout=QUIET_SECONDS)
    finally:
        await disconnect(ana, soporte, maria)

    told = assert_conversation_frame(to_soporte)
    assert to_maria == to_soporte
    assert (told["user"], told["name"], told["status"]) == ("ana", "Ana García", "open")
    assert (told["assignee"], told["assignee_name"]) == ("soporte", "Soporte")
    body = claimed.json()
    assert told == {key: body[key] for key in FRAME_KEYS}
    later = assert_conversation_frame(resolved_frame)
    assert (later["status"], later["assignee"]) == ("resolved", "soporte")
    assert later == {key: resolved.json()[key] for key in FRAME_KEYS}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("memory_layer")
async def test_an_automatic_assignment_is_told_to_every_admin_socket(
    user, admin_user, other_admin
):
    ana, _ = await open_chat(user)
    soporte, _ = await open_chat(admin_user)
    maria, _ = await open_chat(other_admin)
    try:
        await ana.send_json_to({"type": "send", "text": "Hola", "client_id": "c-1"})
        # The first message of a new thread: open and unassigned already.
        [question] = await read(ana, 1)
        assert split(await read(soporte, 1)) == ([question], [])
        assert split(await read(maria, 1)) == ([question], [])

        await soporte.send_json_to(
            {"type": "send", "to": "ana", "text": "Dime", "client_id": "c-2"}
        )
        reply_messages, reply_conversations = split(await read(soporte, 2))
        seen_by_maria = split(await read(maria, 2))
        [reply] = await read(ana, 1)

        # A later reply by another admin changes no owner: no frame.
        await maria.send_json_to(
            {"type": "send", "to": "ana", "text": "Y yo", "client_id": "c-3"}
        )
        second_messages, second_conversations = split(await read(maria, 1))
        assert split(await read(soporte, 1))[1] == []
    finally:
        await disconnect(ana, soporte, maria)

    assert reply_messages == [reply]
    [told] = reply_conversations
    assert seen_by_maria == (reply_messages, reply_conversations)
    assert (told["assignee"], told["assignee_name"]) == ("soporte", "Soporte")
    assert (told["needs_reply"], told["waiting_since"]) == (False, None)
    assert told["last_message"] == reply
    assert second_conversations == []
    assert second_messages[0]["text"] == "Y yo"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("memory_layer")
async def test_a_reopening_message_is_told_and_a_second_one_is_not(
    user, admin_user, other_admin, client_for
):
    store_ = database_sync_to_async(message_store)
    await store_(sender=user, text="Hola")
    await store_(sender=admin_user, to="ana", text="Hecho")
    resolved = await database_sync_to_async(patch)(
        client_for(admin_user), "ana", {"status": "resolved"}
    )
    assert resolved.status_code == 200
    ana, _ = await open_chat(user)
    soporte, _ = await open_chat(admin_user)
    maria, _ = await open_chat(other_admin)
    try:
        await ana.send_json_to(
            {"type": "send", "text": "No funciona", "client_id": "r"}
        )
        [question] = await read(ana, 1)
        reopened = split(await read(maria, 2))
        assert split(await read(soporte, 2)) == reopened

        # Still waiting, still open: needs_reply changes are not told.
        await ana.send_json_to({"type": "send", "text": "¿Hola?", "client_id": "r2"})
        [second] = await read(ana, 1)
        assert split(await read(maria, 1)) == ([second], [])
        assert split(await read(soporte, 1)) == ([second], [])
    finally:
        await disconnect(ana, soporte, maria)

    messages, [told] = reopened
    assert messages == [question]
    assert (told["status"], told["assignee"]) == ("open", "soporte")
    assert (told["needs_reply"], told["waiting_since"]) == (True, question["sent_at"])
    assert told["last_message"] == question


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("memory_layer")
async def test_a_note_produces_no_conversation_frame(
    user, admin_user, other_admin, client_for
):
    await database_sync_to_async(message_store)(sender=user, text="Hola")
    resolved = await database_sync_to_async(patch)(
        client_for(admin_user), "ana", {"status": "resolved"}
    )
    assert resolved.status_code == 200
    soporte, _ = await open_chat(admin_user)
    maria, _ = await open_chat(other_admin)
    try:
        # Resolved and unassigned: a reply would assign it; a note must not.
        await soporte.send_json_to(
            {"type": "send", "to": "ana", "text": "Ojo", "note": True, "client_id": "n"}
        )
        [note] = await read(soporte, 1)
        assert await read(maria, 1) == [note]
    finally:
        await disconnect(soporte, maria)

    assert note["note"] is True
    after = await database_sync_to_async(state)(user)
    assert (after["status"], after["assignee"], after["needs_reply"]) == (
        "resolved",
        None,
        True,
    )
