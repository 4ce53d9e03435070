"""Message rules, storage and read marks, without sockets."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from accounts.models import Role
from chat import services
from chat.frames import ChatError
from chat.models import Message, ReadState, Thread

pytestmark = pytest.mark.django_db


def store(sender, text="hola", **kwargs):
    return services.message_store(sender=sender, text=text, **kwargs)


def test_a_user_message_is_stored_in_their_own_thread(user):
    frame = store(user, client_id="c-1")
    message = Message.objects.get(id=frame["id"])
    assert message.thread == user and message.sender == user
    assert frame == {
        "type": "message",
        "id": message.id,
        "thread": "ana",
        "from": "ana",
        "name": "Ana García",
        "rol": "user",
        "text": "hola",
        "sent_at": frame["sent_at"],
        "client_id": "c-1",
        "note": False,
    }
    assert frame["sent_at"].endswith("Z")
    assert Thread.objects.get(user=user).last_message_id == message.id


def test_an_admin_answers_into_the_named_users_thread(user, admin_user):
    frame = store(admin_user, to="ana")
    assert frame["thread"] == "ana" and frame["rol"] == "admin"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (42, "bad_frame"),
        (None, "bad_frame"),
        ("", "empty_text"),
        ("  \n\t ", "empty_text"),
        ("x" * 4001, "too_long"),
        ("a\x00b", "bad_frame"),
        ("\ud800", "bad_frame"),
    ],
)
def test_invalid_text_is_refused_and_nothing_is_stored(user, text, code):
    with pytest.raises(ChatError) as refused:
        store(user, text=text)
    assert refused.value.code == code
    assert not Message.objects.exists()


def test_4000_characters_is_the_longest_message_accepted(user):
    assert len(store(user, text="x" * 4000)["text"]) == 4000


@pytest.mark.parametrize("client_id", [5, "x" * 65, ["a"]])
def test_a_malformed_client_id_is_refused(user, client_id):
    with pytest.raises(ChatError) as refused:
        store(user, client_id=client_id)
    assert refused.value.code == "bad_frame"


def test_a_user_may_not_name_a_recipient(user, admin_user):
    with pytest.raises(ChatError) as refused:
        store(user, to="soporte")
    assert refused.value.code == "invalid_recipient"


def test_an_admin_may_not_write_to_an_admin(make_user, admin_user):
    make_user("otro", role=Role.ADMIN)
    with pytest.raises(ChatError) as refused:
        store(admin_user, to="otro")
    assert refused.value.code == "invalid_recipient"


def test_an_admin_writing_to_nobody_is_told_the_user_is_unknown(admin_user):
    with pytest.raises(ChatError) as refused:
        store(admin_user, to="nadie")
    assert refused.value.code == "unknown_user"


def test_an_admin_must_name_a_recipient(admin_user):
    with pytest.raises(ChatError) as refused:
        store(admin_user)
    assert refused.value.code == "bad_frame"


def test_the_thread_summary_keeps_the_newest_message(user, admin_user):
    store(user)
    newest = store(admin_user, to="ana")
    assert Thread.objects.get(user=user).last_message_id == newest["id"]


def test_a_read_mark_never_moves_backwards(user, admin_user):
    services.thread_mark_read(reader=admin_user, thread="ana", up_to=10)
    services.thread_mark_read(reader=admin_user, thread="ana", up_to=4)
    assert ReadState.objects.get(reader=admin_user, thread=user).last_read_id == 10


def test_a_user_may_mark_only_their_own_thread(user, make_user):
    make_user("luis")
    services.thread_mark_read(reader=user, thread="ana", up_to=1)
    with pytest.raises(ChatError) as refused:
        services.thread_mark_read(reader=user, thread="luis", up_to=1)
    assert refused.value.code == "forbidden"


def test_marking_an_unknown_thread_is_refused(admin_user):
    with pytest.raises(ChatError) as refused:
        services.thread_mark_read(reader=admin_user, thread="nadie", up_to=1)
    assert refused.value.code == "unknown_user"


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 11, 29, 0, 31, 13, 247928, tzinfo=UTC),
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 1, 1, 5, 0, 0, 7, tzinfo=timezone(timedelta(hours=2))),
    ],
)
def test_the_fast_sqlite_instant_is_what_django_would_store(moment):
    from django.db import connections

    from chat.store import _sqlite_instant

    django_way = connections["default"].ops.adapt_datetimefield_value(moment)
    assert _sqlite_instant(moment) == django_way
