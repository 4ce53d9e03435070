"""Reads without sockets or HTTP: history pages, replay, the inbox, user ids."""

import pytest

from accounts.models import Role
from chat import inbox as desk_inbox
from chat import selectors, services

pytestmark = pytest.mark.django_db


def post(sender, text: str = "hola", **kwargs) -> dict:
    """Store a message the way the services do; its frame."""
    return services.message_store(sender=sender, text=text, **kwargs)


@pytest.fixture
def luis(make_user):
    return make_user("luis")


@pytest.fixture
def thread_of_ana(user, admin_user) -> list[dict]:
    """Six messages in Ana's thread, both sides, oldest first."""
    return [
        post(user, f"pregunta {n}") if n % 2 else post(admin_user, f"r {n}", to="ana")
        for n in range(6)
    ]


def ids(frames: list[dict]) -> list[int]:
    return [frame["id"] for frame in frames]


def conversation_list(admin, limit: int = 50, **kwargs) -> tuple[list[dict], bool]:
    rows, has_more, _ = desk_inbox.conversation_list(admin=admin, limit=limit, **kwargs)
    return rows, has_more


def inbox(admin, **kwargs) -> tuple[list[str], bool]:
    conversations, has_more = conversation_list(admin, **kwargs)
    return [row["user"] for row in conversations], has_more


def unread_of(admin) -> dict[str, int]:
    conversations, _ = conversation_list(admin)
    return {row["user"]: row["unread"] for row in conversations}


def test_a_thread_page_is_its_newest_messages_oldest_first(user, thread_of_ana):
    page, has_more = selectors.thread_history(viewer=user, thread_id=user.pk, limit=4)
    assert ids(page) == ids(thread_of_ana[-4:])
    assert has_more is True


def test_a_thread_page_holds_the_stored_frames(user, thread_of_ana):
    page, _ = selectors.thread_history(viewer=user, thread_id=user.pk)
    assert page == thread_of_ana


@pytest.mark.parametrize(
    ("bound", "at", "expected", "more"),
    [
        ("before", 4, slice(2, 4), True),
        ("before", 2, slice(0, 2), False),
        ("after", 1, slice(2, 4), True),
        ("after", 3, slice(4, 6), False),
    ],
    ids=[
        "before_ends_just_before_it",
        "the_oldest_page_has_no_more",
        "after_starts_just_after_it",
        "the_newest_page_read_forward_has_no_more",
    ],
)
def test_a_page_next_to_an_id_says_whether_more_lie_beyond(
    user, thread_of_ana, bound, at, expected, more
):
    """A page of two before or after the message at index ``at`` of six."""
    page, has_more = selectors.thread_history(
        viewer=user, thread_id=user.pk, limit=2, **{bound: thread_of_ana[at]["id"]}
    )
    assert ids(page) == ids(thread_of_ana[expected])
    assert has_more is more


def test_a_thread_page_holds_no_other_threads_messages(user, luis, thread_of_ana):
    post(luis, "otra conversación")
    page, _ = selectors.thread_history(viewer=user, thread_id=user.pk)
    assert ids(page) == ids(thread_of_ana)


def test_a_user_replays_only_their_own_thread(user, luis, admin_user):
    before = post(user, "antes")
    mine = [post(user, "mía"), post(admin_user, "para ti", to="ana")]
    post(luis, "de otro")
    replay, has_more = selectors.messages_visible_after(viewer=user, after=before["id"])
    assert ids(replay) == ids(mine)
    assert has_more is False


def test_an_admin_replays_every_thread_in_order(user, luis, admin_user):
    before = post(luis, "antes")
    later = [post(user, "uno"), post(luis, "dos"), post(admin_user, "tres", to="ana")]
    replay, _ = selectors.messages_visible_after(viewer=admin_user, after=before["id"])
    assert ids(replay) == ids(later)


def test_a_replay_longer_than_its_limit_says_there_is_more(user, thread_of_ana):
    replay, has_more = selectors.messages_visible_after(viewer=user, after=0, limit=5)
    assert ids(replay) == ids(thread_of_ana[:5])
    assert has_more is True


def test_conversations_come_newest_message_first(user, luis, admin_user):
    post(user, "primero")
    post(luis, "segundo")
    answer = post(admin_user, "respuesta", to="ana")
    conversations, has_more = conversation_list(admin_user)
    assert [row["user"] for row in conversations] == ["ana", "luis"]
    assert conversations[0]["last_message"] == answer
    assert has_more is False


def test_a_user_who_never_wrote_is_not_in_the_inbox(user, luis, admin_user):
    post(luis, "hola")
    assert inbox(admin_user) == (["luis"], False)


def test_conversation_pages_continue_before_the_last_message_id(
    user, luis, make_user, admin_user
):
    eva = make_user("eva")
    for who in (user, luis, eva):
        post(who, "hola")
    first, has_more = conversation_list(admin_user, limit=2)
    assert [row["user"] for row in first] == ["eva", "luis"] and has_more is True
    before = first[-1]["last_message"]["id"]
    assert inbox(admin_user, before=before, limit=2) == (["ana"], False)


def test_without_a_read_mark_every_message_of_the_user_is_unread(user, admin_user):
    for _ in range(3):
        post(user, "hola")
    assert unread_of(admin_user) == {"ana": 3}


def test_the_teams_answers_are_not_unread(user, admin_user):
    post(user, "hola")
    post(admin_user, "buenas", to="ana")
    assert unread_of(admin_user) == {"ana": 1}


def test_only_messages_after_the_read_mark_are_unread(user, admin_user):
    read = [post(user, "uno"), post(user, "dos")]
    post(user, "tres")
    services.thread_mark_read(reader=admin_user, thread="ana", up_to=read[-1]["id"])
    assert unread_of(admin_user) == {"ana": 1}


def test_unread_counts_are_each_admins_own(user, admin_user, make_user):
    other_admin = make_user("carmen", role=Role.ADMIN)
    last = [post(user, "uno"), post(user, "dos")][-1]
    services.thread_mark_read(reader=admin_user, thread="ana", up_to=last["id"])
    assert unread_of(admin_user) == {"ana": 0}
    assert unread_of(other_admin) == {"ana": 2}


def test_user_id_of_finds_a_user_by_exact_name(user):
    assert selectors.user_id_of("ana") == user.pk


@pytest.mark.parametrize("name", ["nadie", "Ana", "ana ", ""])
def test_user_id_of_is_none_for_any_other_name(user, name):
    assert selectors.user_id_of(name) is None
