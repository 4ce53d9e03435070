"""The admins' inbox: conversations as the team sees them (PROTOCOL.md 4).

Each filter is served by an index on ``chat_thread`` (see ``chat.models``),
walked in the order asked for, so a page costs the same at a hundred
threads or a hundred thousand; ``q`` is ``chat.search``'s.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

from accounts.models import Role, User
from chat import search
from chat.frames import conversation_frame_of, message_frame
from chat.models import Message, ReadState, Thread
from chatproject.isotime import iso_utc

RECENT, WAITING = "recent", "waiting"


@dataclass(frozen=True)
class Filters:
    """What ``GET /api/conversations`` narrows the inbox to."""

    status: str | None = None  # open, resolved, or None for all
    assignee: int | None = None  # a user id; with ``unassigned`` False
    unassigned: bool = False
    needs_reply: bool | None = None

    def apply(self, threads):
        if self.status is not None:
            threads = threads.filter(status=self.status)
        if self.unassigned:
            threads = threads.filter(assignee__isnull=True)
        elif self.assignee is not None:
            threads = threads.filter(assignee_id=self.assignee)
        if self.needs_reply is not None:
            threads = threads.filter(waiting_since__isnull=not self.needs_reply)
        return threads


def _annotated(threads, admin: User | None):
    """Threads with what a CONVERSATION shows: the newest message and its
    people, the customer's own read mark and, for ``admin``, the unread count."""
    seen = ReadState.objects.filter(
        reader_id=OuterRef("user_id"), thread_id=OuterRef("user_id")
    ).values("last_read_id")[:1]
    threads = threads.select_related(
        "user", "assignee", "last_message__thread", "last_message__sender"
    ).annotate(seen=Subquery(seen, output_field=IntegerField()))
    if admin is None:
        return threads
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
    return threads.annotate(
        unread=Coalesce(Subquery(unread, output_field=IntegerField()), 0)
    )


def conversation_row(thread: Thread) -> dict[str, Any]:
    """A CONVERSATION from an annotated thread; ``unread`` when it was counted."""
    assignee = thread.assignee
    row = conversation_frame_of(
        user=thread.user.username,
        name=thread.user.name,
        last_message=message_frame(thread.last_message)
        if thread.last_message
        else None,
        status=thread.status,
        assignee=assignee.username if assignee else None,
        assignee_name=assignee.name if assignee else None,
        waiting_since=iso_utc(thread.waiting_since) if thread.waiting_since else None,
        user_seen_up_to=thread.seen,
    )
    if hasattr(thread, "unread"):
        row["unread"] = thread.unread
    return row


def conversation_of(user_id: int, *, admin: User | None = None) -> dict[str, Any]:
    """One user's CONVERSATION (with ``admin``'s unread count when given); a
    user who never wrote has an open, unassigned, empty one."""
    thread = _annotated(Thread.objects.filter(pk=user_id), admin).first()
    if thread is None:
        thread = Thread(user=User.objects.get(pk=user_id))
        thread.seen = None
        if admin is not None:
            thread.unread = 0
    return conversation_row(thread)


def waiting_cursor(text: str) -> tuple[datetime, int]:
    """The ``cursor`` of an ``order=waiting`` page. Raises ValueError."""
    since, _, user_id = text.rpartition("~")
    moment = datetime.fromisoformat(since)
    if moment.tzinfo is None or not user_id.isascii() or not user_id.isdigit():
        raise ValueError(text)
    if len(user_id) > 18:  # beyond a 64-bit id
        raise ValueError(text)
    try:
        # In UTC now, so that the database never meets an instant it
        # cannot hold (year 1 at +01:00 is year 0 in UTC).
        return moment.astimezone(UTC), int(user_id)
    except OverflowError as err:
        raise ValueError(text) from err


def conversation_list(
    *,
    admin: User,
    filters: Filters = Filters(),
    order: str = RECENT,
    before: int | None = None,
    after_waiting: tuple[datetime, int] | None = None,
    limit: int,
) -> tuple[list[dict[str, Any]], bool, str | None]:
    """A page of the inbox, whether more follow, and for ``waiting`` the
    cursor of the next page.

    ``recent``: newest ``last_message`` first, the next page ``before`` the
    last row's ``last_message`` id. ``waiting``: the customers waiting
    longest first, the next page after ``(waiting_since, user id)`` of the
    last row (exact to the microsecond, which the rows' ISO times are not).
    """
    threads = filters.apply(Thread.objects.filter(last_message__isnull=False))
    if order == WAITING:
        threads = threads.filter(waiting_since__isnull=False)
        if after_waiting is not None:
            since, user_id = after_waiting
            threads = threads.filter(
                Q(waiting_since__gt=since) | Q(waiting_since=since, user_id__gt=user_id)
            )
        threads = threads.order_by("waiting_since", "user_id")
    else:
        if before is not None:
            threads = threads.filter(last_message_id__lt=before)
        threads = threads.order_by("-last_message_id")
    found = list(_annotated(threads, admin)[: limit + 1])
    shown, has_more = found[:limit], len(found) > limit
    cursor = None
    if order == WAITING and has_more:
        last = shown[-1]
        cursor = f"{last.waiting_since.isoformat()}~{last.user_id}"
    return [conversation_row(thread) for thread in shown], has_more, cursor


def conversation_search(
    *,
    admin: User,
    query: str,
    filters: Filters = Filters(),
    before: int | None = None,
    limit: int,
) -> tuple[list[dict[str, Any]], bool, int | None]:
    """Conversations matching ``query``, each with ``match``: the newest
    matching message, or None when only the customer's name matched; whether
    more follow, and the ``before`` of the next page."""
    words = search.words_of(query)
    if not words:
        return [], False, None

    def keep(thread_ids: list[int]) -> set[int]:
        threads = filters.apply(Thread.objects.filter(pk__in=thread_ids))
        return set(threads.values_list("pk", flat=True))

    hits = search.threads_matching(words, before=before, limit=limit + 1, keep=keep)
    shown = hits[:limit]
    threads = {
        thread.pk: thread
        for thread in _annotated(
            Thread.objects.filter(pk__in=[hit.thread_id for hit in shown]), admin
        )
    }
    matches = _messages_by_id([hit.match for hit in shown if hit.match is not None])
    rows = []
    for hit in shown:
        if hit.thread_id not in threads:
            continue  # the customer was deleted meanwhile
        row = conversation_row(threads[hit.thread_id])
        row["match"] = matches.get(hit.match)
        rows.append(row)
    has_more = len(hits) > limit
    return rows, has_more, shown[-1].key if has_more else None


def _messages_by_id(ids: list[int]) -> dict[int, dict[str, Any]]:
    messages = Message.objects.filter(pk__in=ids).select_related("thread", "sender")
    return {message.pk: message_frame(message) for message in messages}


def admin_list() -> list[dict[str, str]]:
    """Every active admin as ``{"user", "name"}``, by name: the assignee picker."""
    admins = [
        {"user": admin.username, "name": admin.name}
        for admin in User.objects.filter(role=Role.ADMIN, is_active=True)
    ]
    return sorted(admins, key=lambda admin: admin["name"].casefold())
