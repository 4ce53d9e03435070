"""No frame crashes a socket, and every socket leaves the hub when it closes.

PROTOCOL.md 3.2: whatever a client sends, the socket answers an `error` frame
and lives on (or closes cleanly), and once closed it is in no registry: not
in the open-sockets gauge, not in the hub, not in the channel layer's groups.
"""

import json

import pytest
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.models import Role
from chat import metrics, selectors
from chat.groups import ADMINS_GROUP, user_group
from chat.hub import hub
from chat.presence import PRESENCE_GROUP, presence
from tests.integration.test_hostile_input import exchange, random_frames
from tests.integration.ws_helpers import open_chat

pytestmark = pytest.mark.django_db(transaction=True)

ID_LIMIT = 2**63
HUGE_INTEGER = "9" * 5000

# The frames that used to close the socket with 1011 and leave it registered.
KNOWN_CRASHERS = [
    json.dumps({"type": "resume", "after": ID_LIMIT}),
    json.dumps({"type": "resume", "after": 10**40}),
    json.dumps({"type": "read", "thread": "ana", "up_to": ID_LIMIT}),
    json.dumps({"type": "read", "thread": "ana", "up_to": 10**30}),
    '{"type":"resume","after":' + HUGE_INTEGER + "}",
    '{"type":"send","text":"hola","client_id":' + HUGE_INTEGER + "}",
    "[" + HUGE_INTEGER + "]",
]
hostile_frames = st.one_of(st.sampled_from(KNOWN_CRASHERS), random_frames)


def open_sockets_gauge() -> float:
    return metrics.OPEN_SOCKETS._value.get()


def assert_registries_hold_exactly(open_users: list) -> None:
    """The hub's groups are those of the open sockets (and presence's own, while
    there is any); presence knows exactly these sockets; the layer holds no
    more."""
    expected: dict[str, int] = {PRESENCE_GROUP: 1} if open_users else {}
    for user in open_users:
        groups = [user_group(user.username)]
        if user.role == Role.ADMIN:
            groups.append(ADMINS_GROUP)
        for group in groups:
            expected[group] = expected.get(group, 0) + 1
    assert {group: len(members) for group, members in hub.members.items()} == expected
    told = [*presence.customer_sockets]
    for sockets in presence.admin_sockets.values():
        told.extend(sockets)
    assert sorted(socket.user.pk for socket in told) == sorted(
        user.pk for user in open_users
    )
    layer = get_channel_layer()
    if isinstance(layer, InMemoryChannelLayer):  # the hub never uses its groups
        assert sum(len(members) for members in layer.groups.values()) == 0
        return
    # Redis: this process subscribes its one relay channel to each group it
    # has sockets in, and to nothing else.
    loop_layer = layer._get_layer()
    assert set(loop_layer.groups) == {
        loop_layer._get_group_channel_name(group) for group in expected
    }
    assert all(
        members == {hub._relay_channel} for members in loop_layer.groups.values()
    )


@pytest.mark.parametrize("id_value", [ID_LIMIT, 10**40, -1])
async def test_an_id_outside_the_64_bit_range_is_a_bad_frame(
    user, channel_layer_settings, id_value
):
    chat, _ = await open_chat(user)
    try:
        for frame in (
            {"type": "resume", "after": id_value},
            {"type": "read", "thread": "ana", "up_to": id_value},
        ):
            await chat.send_json_to(frame)
            answer = await chat.receive_json_from(timeout=10)
            assert (answer["type"], answer["code"]) == ("error", "bad_frame")
        await chat.send_json_to({"type": "resume", "after": ID_LIMIT - 1})
        assert (await chat.receive_json_from(timeout=10))["type"] == "resumed"
    finally:
        await chat.disconnect()


async def test_an_integer_of_thousands_of_digits_is_bad_json(user):
    chat, _ = await open_chat(user)
    try:
        await chat.send_to(text_data='{"type":"resume","after":' + HUGE_INTEGER + "}")
        answer = await chat.receive_json_from(timeout=10)
        assert (answer["type"], answer["code"]) == ("error", "bad_json")
    finally:
        await chat.disconnect()


async def test_a_handler_that_raises_answers_an_error_and_the_socket_lives(
    user, monkeypatch
):
    def broken(**kwargs):
        raise RuntimeError("a bug in a selector")

    monkeypatch.setattr(selectors, "messages_visible_after", broken)
    chat, _ = await open_chat(user)
    try:
        await chat.send_json_to({"type": "resume", "after": 0})
        answer = await chat.receive_json_from(timeout=10)
        assert (answer["type"], answer["code"]) == ("error", "server_error")
        await chat.send_json_to({"type": "send", "text": "sigo", "client_id": "c-1"})
        echo = await chat.receive_json_from(timeout=10)
        assert (echo["type"], echo["client_id"]) == ("message", "c-1")
    finally:
        await chat.disconnect()
    assert_registries_hold_exactly([])


@hypothesis_settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(frames=st.lists(hostile_frames, min_size=60, max_size=90))
async def test_hundreds_of_hostile_frames_leave_registries_exactly_as_open_sockets(
    make_user, channel_layer_settings, frames
):
    ana = await database_sync_to_async(make_user)("ana")
    admin = await database_sync_to_async(make_user)("soporte", role=Role.ADMIN)
    gauge_before = open_sockets_gauge()
    sockets = [await open_chat(who) for who in (ana, ana, admin)]
    owners = [ana, ana, admin]
    try:
        for index, frame in enumerate(frames):
            chat, _ = sockets[index % len(sockets)]
            answers = await exchange(chat, frame)
            # "conversation" on the admin's socket: a first reply assigns.
            # Live signals from other sockets' frames (read, typing, ping).
            allowed = {"message", "error", "resumed", "seen", "typing", "pong"}
            if owners[index % len(sockets)] is admin:
                allowed.add("conversation")
            assert {a["type"] for a in answers} <= allowed
        assert open_sockets_gauge() - gauge_before == len(sockets)
        assert_registries_hold_exactly(owners)
        # One of Ana's sockets goes: the registries follow.
        chat, _ = sockets.pop(0)
        owners.pop(0)
        await chat.disconnect()
        assert open_sockets_gauge() - gauge_before == len(sockets)
        assert_registries_hold_exactly(owners)
    finally:
        for chat, _ in sockets:
            await chat.disconnect()
        await database_sync_to_async(_delete_everything)()
    assert open_sockets_gauge() == gauge_before
    assert_registries_hold_exactly([])


def _delete_everything():
    from accounts.models import User
    from chat.models import Message, Thread

    Thread.objects.all().delete()
    Message.objects.all().delete()
    User.objects.all().delete()
