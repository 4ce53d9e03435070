"""Reads: history pages and replay after a reconnect (the inbox is ``chat.inbox``).

Every query here is a range scan on an index (see ``chat.models``): pages
cost the same with a hundred messages or a million.
"""

from typing import Any

from django.db import connection
from django.db.models import Max

from accounts.models import Role, User
from chat.frames import MAX_RESUME_MESSAGES, message_frame_of
from chat.models import CannedReply, Message, ReadState
from chatproject.isotime import iso_utc_stored

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
    " m.text, m.created_at, m.client_id, m.note"
    f" FROM {_MESSAGES} m"
    f" JOIN {_USERS} t ON t.id = m.thread_id"
    f" JOIN {_USERS} s ON s.id = m.sender_id"
)


def _frame(row) -> dict[str, Any]:
    message_id, thread, sender, name, role, text, created_at, client_id, note = row
    return message_frame_of(
        message_id=message_id,
        thread=thread,
        sender=sender,
        sender_name=name,
        sender_role=role,
        text=text,
        sent_at=iso_utc_stored(created_at),
        client_id=client_id,
        note=bool(note),
    )


def _page(
    *,
    thread_id: int | None,
    before: int | None,
    after: int | None,
    limit: int,
    notes: bool,
) -> tuple[list[dict[str, Any]], bool]:
    """One page of messages (of one thread, or of all) ascending by id, and
    whether more lie beyond it; the team's notes only with ``notes``.

    With ``after``, the page starts just after it (reading forward);
    otherwise it ends just before ``before`` or at the newest message.
    """
    conditions, params = [], []
    if not notes:
        # A filter on the rows the index walk reads, not a second index:
        # notes are few beside the messages.
        conditions.append("NOT m.note")
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
    viewer: User,
    thread_id: int,
    before: int | None = None,
    after: int | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> tuple[list[dict[str, Any]], bool]:
    """A page of the messages of the thread of user ``thread_id`` as ``message``
    frames, and ``has_more``; notes only when ``viewer`` is of the team."""
    return _page(
        thread_id=thread_id,
        before=before,
        after=after,
        limit=limit,
        notes=viewer.is_support_admin,
    )


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

    Admins see every thread and the notes; users their own, without notes.
    """
    admin = viewer.is_support_admin
    return _page(
        thread_id=None if admin else viewer.pk,
        before=None,
        after=after,
        limit=limit,
        notes=admin,
    )


def read_mark(thread_id: int, *, customer: bool) -> int | None:
    """How far the thread's customer (``customer``) or the team (the highest
    of its admins' marks) has read the thread, or None."""
    marks = ReadState.objects.filter(thread_id=thread_id)
    if customer:
        marks = marks.filter(reader_id=thread_id)
    else:
        marks = marks.filter(reader__role=Role.ADMIN)
    return marks.aggregate(mark=Max("last_read_id"))["mark"]


def last_team_reply_id(thread_id: int) -> int | None:
    """The id of the team's newest reply in the thread (notes aside), or None."""
    return (
        Message.objects.filter(thread_id=thread_id, sender_role=Role.ADMIN, note=False)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )


def canned_reply_list() -> list[dict[str, str]]:
    """Every canned reply as ``{"shortcut", "text"}``, by shortcut."""
    return list(CannedReply.objects.order_by("shortcut").values("shortcut", "text"))
