"""When an email notification opens and closes (``notifications.models``).

Called from the chat: after a batch of messages is published
(:func:`after_batch`) and when a customer's read mark moves forward
(:func:`customer_read`). Opening one stores the notification and its task
(``notifications.tasks.send_notification``, due when it is due) in one
transaction, so from then on it survives any restart; the worker sends it.

Nothing here runs for a batch that needs no email: a customer writing while
the team is online (the usual case) costs one look at this process's
presence, no query.
"""

import asyncio
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from accounts.models import Role, User, is_admin_role
from chat.dbthread import db_call
from chat.selectors import last_team_reply_id
from notifications.models import Notification
from notifications.tasks import send_notification

logger = logging.getLogger(__name__)

Kind, State = Notification.Kind, Notification.State

# Closing a cycle: a pending email is no longer due; a sent one is done.
_CLOSE = {
    "closed": True,
    "state": Case(
        When(state=State.PENDING, then=Value(State.CANCELLED)), default=F("state")
    ),
}


def reachable(users):
    """Of ``users`` (a queryset), those an email may be sent to now."""
    return users.filter(
        is_active=True, email_verified=True, email_bounced_at__isnull=True
    ).exclude(email="")


def after_batch(frames: Iterable[dict], team_online: bool | None) -> None:
    """Open and close notifications for a published batch (its ``message``
    frames), beside the chat rather than in its way.

    ``team_online``: whether an admin is online, as this process's presence
    knows (None: it does not know; taken as offline).
    """
    if not settings.EMAIL_ENABLED:
        return
    answered, asked = set(), set()
    for frame in frames:
        if frame["note"]:
            continue
        if is_admin_role(frame["rol"]):
            answered.add(frame["thread"])
        elif not team_online:
            asked.add(frame["thread"])
    if answered or asked:
        task = asyncio.ensure_future(_schedule(answered, asked))
        # Kept until done: the loop holds only a weak reference.
        _running.add(task)
        task.add_done_callback(_running.discard)


_running: set[asyncio.Task] = set()


async def _schedule(answered: set[str], asked: set[str]) -> None:
    try:
        await db_call(messages_stored, answered=answered, asked=asked)
    except Exception:
        # The messages are stored and delivered; only their emails are lost,
        # and the thread's next message tries again.
        logger.exception("could not schedule email notifications")


def messages_stored(*, answered: set[str], asked: set[str]) -> None:
    """The team answered the threads ``answered``; customers wrote in ``asked``
    while nobody of the team was online (thread usernames)."""
    now = timezone.now()
    with transaction.atomic():
        if answered:
            # Someone answered: the team's waiting emails are done with.
            Notification.objects.filter(
                kind=Kind.NEW, closed=False, thread__username__in=answered
            ).update(**_CLOSE)
            customers = reachable(
                User.objects.filter(username__in=answered, notify_replies=True)
            ).values_list("id", flat=True)
            due = now + timedelta(seconds=settings.NOTIFY_AFTER_SECONDS)
            _open(Kind.REPLY, [(pk, pk) for pk in customers], due)
        if asked:
            threads = list(
                User.objects.filter(username__in=asked, role=Role.USER).values_list(
                    "id", flat=True
                )
            )
            admins = list(
                reachable(
                    User.objects.filter(role=Role.ADMIN, notify_new_conversations=True)
                ).values_list("id", flat=True)
            )
            due = now + timedelta(seconds=settings.NOTIFY_TEAM_AFTER_SECONDS)
            _open(Kind.NEW, [(a, t) for a in admins for t in threads], due)


def _open(kind: str, pairs: list[tuple[int, int]], due: datetime) -> None:
    """Open a notification of ``kind`` for each (recipient, thread) that has no
    open one, with its task due at ``due``."""
    if not pairs:
        return
    already = set(
        Notification.objects.filter(
            kind=kind,
            closed=False,
            recipient_id__in={r for r, _ in pairs},
            thread_id__in={t for _, t in pairs},
        ).values_list("recipient_id", "thread_id")
    )
    for recipient_id, thread_id in pairs:
        if (recipient_id, thread_id) in already:
            continue  # joins the open one
        try:
            with transaction.atomic():
                notification = Notification.objects.create(
                    kind=kind,
                    recipient_id=recipient_id,
                    thread_id=thread_id,
                    due_at=due,
                )
                send_notification.using(run_after=due).enqueue(notification.pk)
        except IntegrityError:
            continue  # another process opened it first: it joins that one


def customer_read(thread_id: int, up_to: int) -> None:
    """The thread's customer read it up to ``up_to`` (their mark moved forward).

    A sent email's cycle ends: the next reply may be emailed again. A pending
    one is cancelled when nothing the team wrote is left unseen.
    """
    if not settings.EMAIL_ENABLED:
        return
    open_ones = Notification.objects.filter(
        kind=Kind.REPLY, thread_id=thread_id, closed=False
    )
    last_reply = last_team_reply_id(thread_id)
    if last_reply is None or up_to >= last_reply:
        open_ones.update(**_CLOSE)
    else:
        open_ones.filter(state=State.SENT).update(closed=True)
