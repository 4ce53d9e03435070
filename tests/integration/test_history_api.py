"""History API over a large store: right pages, constant queries, index range scans."""

import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role, User
from chat.models import Message, ReadState, Thread
from tests.conftest import PASSWORD, token_for
from tests.integration.dbthread_helpers import db_thread_queries

TOTAL_MESSAGES = 100_000
THREADS = 500
# A full scan is "SCAN <table>" with no index; an ordered index walk stopped
# by LIMIT reads "SCAN <table> USING INDEX" and is fine. The \b keeps the
# regex from backtracking into the name ("SCAN chat_threa" + "d USING").
FULL_SCAN = re.compile(r"\bSCAN (\w+)\b(?! USING)")
SORT_OF_ALL_ROWS = "USE TEMP B-TREE FOR ORDER BY"


@pytest.fixture(scope="module")
def big_store(django_db_setup, django_db_blocker):
    """100,000 messages over 500 threads, plus the inbox summary rows.

    Bulk-inserted for speed; the services are tested elsewhere.
    """
    with django_db_blocker.unblock():
        admin = User.objects.create_user("hist-admin", password=PASSWORD)
        admin.role = Role.ADMIN
        admin.save()
        other_admin = User.objects.create_user("hist-admin2", password=PASSWORD)
        other_admin.role = Role.ADMIN
        other_admin.save()
        users = User.objects.bulk_create(
            [User(username=f"hist-u{i:03d}", role=Role.USER) for i in range(THREADS)]
        )
        now = timezone.now()
        batch = []
        for n in range(TOTAL_MESSAGES):
            owner = users[n % THREADS]
            sender = owner if n % 3 else admin
            batch.append(
                Message(
                    thread=owner,
                    sender=sender,
                    sender_name=sender.username,
                    sender_role=sender.role,
                    text=f"message {n}",
                    created_at=now,
                )
            )
            if len(batch) == 10_000:
                Message.objects.bulk_create(batch)
                batch = []
        last_ids = {}
        for thread_id, message_id in Message.objects.values_list("thread_id", "id"):
            last_ids[thread_id] = message_id
        # Varied desk state (PROTOCOL.md 4), so every inbox filter finds rows
        # and skips rows: a quarter resolved, a third each per assignee or
        # none, half waiting (at distinct instants).
        owners = [admin.id, other_admin.id, None]
        Thread.objects.bulk_create(
            [
                Thread(
                    user_id=t,
                    last_message_id=m,
                    status=Thread.RESOLVED if i % 4 == 0 else Thread.OPEN,
                    assignee_id=owners[i % 3],
                    waiting_since=now - timedelta(seconds=i) if i % 2 else None,
                )
                for i, (t, m) in enumerate(last_ids.items())
            ]
        )
        ReadState.objects.create(
            reader=admin, thread=users[0], last_read_id=last_ids[users[0].id] - 3000
        )
        yield {"admin": admin, "other_admin": other_admin, "users": users}
        Thread.objects.all().delete()
        ReadState.objects.all().delete()
        Message.objects.all().delete()
        User.objects.filter(username__startswith="hist-").delete()


def _get(client, url, user):
    """The JSON page, and every query it cost: in the test's thread (the
    inbox) and on the chat's database thread (the message endpoints)."""
    client.cookies["token"] = token_for(user)
    with (
        CaptureQueriesContext(connection) as queries,
        db_thread_queries() as db_thread,
    ):
        response = client.get(url)
    assert response.status_code == 200, response.content
    return response.json(), queries.captured_queries + db_thread


def _plans(queries):
    plans = []
    with connection.cursor() as cursor:
        for query in queries:
            cursor.execute("EXPLAIN QUERY PLAN " + query["sql"])
            plans.append("\n".join(row[-1] for row in cursor.fetchall()))
    return plans


def _assert_index_only(queries):
    for query, plan in zip(queries, _plans(queries), strict=True):
        assert not FULL_SCAN.search(plan), f"full scan in:\n{query['sql']}\n{plan}"
        assert SORT_OF_ALL_ROWS not in plan, f"sort of all rows in:\n{plan}"


pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def test_thread_pages_walk_back_and_forward_with_the_same_queries(client, big_store):
    owner = big_store["users"][7]
    expected_ids = list(
        Message.objects.filter(thread=owner).order_by("id").values_list("id", flat=True)
    )
    newest, newest_queries = _get(client, "/api/messages/mine?limit=50", owner)
    assert [m["id"] for m in newest["messages"]] == expected_ids[-50:]
    assert newest["has_more"] is True

    before = newest["messages"][0]["id"]
    older, older_queries = _get(
        client, f"/api/messages/mine?limit=50&before={before}", owner
    )
    assert [m["id"] for m in older["messages"]] == expected_ids[-100:-50]

    after = expected_ids[10]
    forward, forward_queries = _get(
        client, f"/api/messages/mine?limit=50&after={after}", owner
    )
    assert [m["id"] for m in forward["messages"]] == expected_ids[11:61]
    assert forward["has_more"] is True
    assert len(newest_queries) == len(older_queries) == len(forward_queries)
    for queries in (newest_queries, older_queries, forward_queries):
        _assert_index_only(queries)


def test_the_oldest_page_says_there_is_nothing_more(client, big_store):
    owner = big_store["users"][3]
    first_id = Message.objects.filter(thread=owner).order_by("id")[5].id
    page, _ = _get(client, f"/api/messages/mine?before={first_id}", owner)
    assert len(page["messages"]) == 5
    assert page["has_more"] is False


def test_admin_thread_pages_use_the_index(client, big_store):
    owner = big_store["users"][250]
    page, queries = _get(
        client, f"/api/messages?with={owner.username}&limit=200", big_store["admin"]
    )
    assert len(page["messages"]) == 200
    assert {m["thread"] for m in page["messages"]} == {owner.username}
    _assert_index_only(queries)


def test_conversations_come_newest_first_with_unread_counts(client, big_store):
    admin = big_store["admin"]
    first, first_queries = _get(client, "/api/conversations?limit=100", admin)
    rows = first["conversations"]
    assert len(rows) == 100 and first["has_more"] is True
    last_ids = [row["last_message"]["id"] for row in rows]
    assert last_ids == sorted(last_ids, reverse=True)
    assert last_ids[0] == Message.objects.order_by("-id").first().id

    unread_of = {row["user"]: row["unread"] for row in rows}
    marked = big_store["users"][0]
    if marked.username in unread_of:
        mark = ReadState.objects.get(reader=admin, thread=marked).last_read_id
        assert (
            unread_of[marked.username]
            == Message.objects.filter(thread=marked, sender=marked, id__gt=mark).count()
        )
    unmarked = rows[1]["user"]
    assert (
        unread_of[unmarked]
        == Message.objects.filter(
            thread__username=unmarked, sender__username=unmarked
        ).count()
    )

    second, second_queries = _get(
        client, f"/api/conversations?limit=100&before={last_ids[-1]}", admin
    )
    assert second["conversations"][0]["last_message"]["id"] < last_ids[-1]
    assert len(first_queries) == len(second_queries)
    _assert_index_only(first_queries)
    _assert_index_only(second_queries)


def test_resume_replay_for_an_admin_is_a_primary_key_range(big_store):
    from chat.selectors import messages_visible_after

    start = Message.objects.order_by("id")[50_000].id
    with CaptureQueriesContext(connection) as queries:
        messages, has_more = messages_visible_after(
            viewer=big_store["admin"], after=start
        )
    assert len(messages) == 1000 and has_more is True
    assert messages[0]["id"] > start
    assert len(queries.captured_queries) == 1
    _assert_index_only(queries.captured_queries)


# The inbox's filters (PROTOCOL.md 4) over the big store: each is an index
# walk in the order asked for (chat.models Thread.Meta), never a scan of every
# thread or a sort of them. Each query string with the ORM filter it means.
INBOX_FILTERS = {
    "status=open": {"status": Thread.OPEN},
    "status=resolved": {"status": Thread.RESOLVED},
    "assignee=hist-admin2": {"assignee__username": "hist-admin2"},
    "assignee=none": {"assignee__isnull": True},
    "needs_reply=1": {"waiting_since__isnull": False},
    "assignee=hist-admin&status=open": {
        "assignee__username": "hist-admin",
        "status": Thread.OPEN,
    },
}


def _expected_users(order_by: tuple[str, ...], **filters) -> list[str]:
    threads = Thread.objects.filter(last_message__isnull=False, **filters)
    return list(threads.order_by(*order_by).values_list("user__username", flat=True))


@pytest.mark.parametrize("query", list(INBOX_FILTERS))
def test_inbox_filters_walk_an_index_newest_first(client, big_store, query):
    admin = big_store["admin"]
    expected = _expected_users(("-last_message_id",), **INBOX_FILTERS[query])
    assert len(expected) > 100, "the store must give this filter pages to walk"

    first, first_queries = _get(client, f"/api/conversations?{query}&limit=50", admin)
    rows = first["conversations"]
    assert [row["user"] for row in rows] == expected[:50]
    assert first["has_more"] is True
    before = rows[-1]["last_message"]["id"]
    second, second_queries = _get(
        client, f"/api/conversations?{query}&limit=50&before={before}", admin
    )
    assert [row["user"] for row in second["conversations"]] == expected[50:100]
    assert len(first_queries) == len(second_queries)
    _assert_index_only(first_queries)
    _assert_index_only(second_queries)


def test_the_waiting_queue_of_open_threads_walks_the_waiting_index(client, big_store):
    admin = big_store["admin"]
    expected = _expected_users(
        ("waiting_since", "user_id"), waiting_since__isnull=False, status=Thread.OPEN
    )
    assert len(expected) > 100
    url = "/api/conversations?needs_reply=1&status=open&order=waiting&limit=50"

    first, first_queries = _get(client, url, admin)
    assert [row["user"] for row in first["conversations"]] == expected[:50]
    assert first["has_more"] is True and first["next_cursor"]
    cursor = urlencode({"cursor": first["next_cursor"]})
    second, second_queries = _get(client, f"{url}&{cursor}", admin)
    assert [row["user"] for row in second["conversations"]] == expected[50:100]
    _assert_index_only(first_queries)
    _assert_index_only(second_queries)
