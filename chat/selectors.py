"""Reads: history pages, replay after a reconnect, the admins' inbox.

Every query here is a range scan on an index (see ``chat.models``): pages
cost the same with a hundred messages or a million.
"""

from datetime import UTC
from typing import Any

from django.db import connection
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from accounts.models import User
from chat.frames import MAX_RESUME_MESSAGES, message_frame, message_frame_of
from chat.models import CannedReply, Message, ReadState, Thread
from chatproject.isotime import iso_utc

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200

# Message pages are the hot read (every chat page load, every reconnect), so
# they are one hand-written SQL statement read as plain rows: building the
# ORM query and a model instance per row (plus two related users) cost
# several times more CPU than SQLite spent answering it. The plans are the
# same index range scans (tests/integration/test_history_api.py checks them).
# Table names come from the models, as everywhere else.
_MESSAGES, _USERS = Message._meta.db_table, User._meta.db_table
_MESSAGE_ROWS = (
    "SELECT m.id, t.username, s.username, m.sender_name, m.sender_role,"  # noqa: S608 (names from the models)
    " m.text, m.created_at, m.client_id"
    f" FROM {_MESSAGES} m"
    f" JOIN {_USERS} t ON t.id = m.thread_id"
    f" JOIN {_USERS} s ON s.id = m.sender_id"
)


def _frame(row) -> dict[str, Any]:
    message_id, thread, sender, name, role, text, created_at, client_id = row
    # Stored in UTC (USE_TZ); SQLite hands a raw query naive datetimes.
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=UTC)
    return message_frame_of(
        message_id=message_id,
        thread=thread,
        sender=sender,
        sender_name=name,
        sender_role=role,
        text=text,
        sent_at=iso_utc(created_at),
        client_id=client_id,
    )


def _page(
    *, thread_id: int | None, before: int | None, after: int | None, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """One page of messages (of one thread, or of all) ascending by id, and
    whether more lie beyond it.

    With ``after``, the page starts just after it (reading forward);
    otherwise it ends just before ``before`` or at the newest message.
    """
    conditions, params = [], []
    if thread_id is not None:
        conditions.append("m.thread_id = %s")
        params.append(thread_id)
    if before is not None:
        conditions.append("m.id < %s")
        params.append(before)
    if after is not None:
        conditions.append("m.id > %s")
        params.append(after)
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    order = "ASC" if after is not None else "DESC"
    with connection.cursor() as cursor:
        cursor.execute(
            f"{_MESSAGE_ROWS}{where} ORDER BY m.id {order} LIMIT %s",
            [*params, limit + 1],
        )
        rows = cursor.fetchall()
    has_more = len(rows) > limit
    rows = rows[:limit]
    if after is None:
        rows.reverse()
    return [_frame(row) for row in rows], has_more


def thread_history(
    *,
    thread_id: int,
    before: int | None = None,
    after: int | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> tuple[list[dict[str, Any]], bool]:
    """A page of the messages of the thread of user ``thread_id`` as ``message``
    frames, and ``has_more``."""
    return _page(thread_id=thread_id, before=before, after=after, limit=limit)


def user_id_of(username: str) -> int | None:
    """The id of the user named exactly ``username``, or None."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {_USERS} WHERE username = %s",  # noqa: S608 (names from the models)
            [username],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def messages_visible_after(
    *, viewer: User, after: int, limit: int = MAX_RESUME_MESSAGES
) -> tuple[list[dict[str, Any]], bool]:
    """What a socket of ``viewer`` missed after ``after``, oldest first; ``has_more``.

    Admins see every thread; users their own.
    """
    thread_id = None if viewer.is_support_admin else viewer.pk
    return _page(thread_id=thread_id, before=None, after=after, limit=limit)


def conversation_list(
    *, admin: User, before: int | None = None, limit: int = DEFAULT_PAGE_SIZE
) -> tuple[list[dict[str, Any]], bool]:
    """The inbox: threads by newest message first, with ``admin``'s unread counts.

    Unread counts the thread user's own messages after ``admin``'s read mark;
    answers from the team are not "unread" work. ``before`` is a
    ``last_message`` id, for the next page.
    """
    # Nested in the unread subquery, so the thread is two levels out.
    read_mark = ReadState.objects.filter(
        reader=admin, thread_id=OuterRef(OuterRef("user_id"))
    ).values("last_read_id")[:1]
    unread = (
        Message.objects.filter(
            thread_id=OuterRef("user_id"),
            sender_id=OuterRef("user_id"),
            id__gt=Coalesce(Subquery(read_mark), Value(0)),
        )
        .order_by()
        .values("thread_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    threads = Thread.objects.filter(last_message__isnull=False)
    if before is not None:
        threads = threads.filter(last_message_id__lt=before)
    rows = list(
        threads.select_related("user", "last_message__thread", "last_message__sender")
        .annotate(unread=Coalesce(Subquery(unread, output_field=IntegerField()), 0))
        .order_by("-last_message_id")[: limit + 1]
    )
    conversations = [
        {
            "user": row.user.username,
            "name": row.user.name,
            "last_message": message_frame(row.last_message),
            "unread": row.unread,
        }
        for row in rows[:limit]
    ]
    return conversations, len(rows) > limit


def canned_reply_list() -> list[dict[str, str]]:
    """Every canned reply as ``{"shortcut", "text"}``, by shortcut."""
    return list(CannedReply.objects.order_by("shortcut").values("shortcut", "text"))
