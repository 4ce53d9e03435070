"""Reads: history pages, replay after a reconnect, the admins' inbox.

Every query here is a range scan on an index (see ``chat.models``): pages
cost the same with a hundred messages or a million.
"""

from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from accounts.models import Role, User
from chat.frames import MAX_RESUME_MESSAGES, message_frame
from chat.models import Message, ReadState, Thread

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


def _frames(queryset) -> list[dict[str, Any]]:
    return [message_frame(m) for m in queryset.select_related("thread", "sender")]


def _page(queryset, *, before: int | None, after: int | None, limit: int):
    """One page of ``queryset`` ascending by id, and whether more lie beyond it.

    With ``after``, the page starts just after it (reading forward);
    otherwise it ends just before ``before`` or at the newest message.
    """
    if before is not None:
        queryset = queryset.filter(id__lt=before)
    if after is not None:
        rows = _frames(queryset.filter(id__gt=after).order_by("id")[: limit + 1])
        return rows[:limit], len(rows) > limit
    rows = _frames(queryset.order_by("-id")[: limit + 1])
    has_more = len(rows) > limit
    return rows[:limit][::-1], has_more


def thread_history(
    *,
    thread: User,
    before: int | None = None,
    after: int | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> tuple[list[dict[str, Any]], bool]:
    """A page of ``thread``'s messages as ``message`` frames, and ``has_more``."""
    return _page(
        Message.objects.filter(thread=thread), before=before, after=after, limit=limit
    )


def messages_visible_after(
    *, viewer: User, after: int, limit: int = MAX_RESUME_MESSAGES
) -> tuple[list[dict[str, Any]], bool]:
    """What a socket of ``viewer`` missed after ``after``, oldest first; ``has_more``.

    Admins see every thread; users their own.
    """
    queryset = Message.objects.all()
    if viewer.role != Role.ADMIN:
        queryset = queryset.filter(thread=viewer)
    return _page(queryset, before=None, after=after, limit=limit)


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
