"""Sending one notification: the task the worker runs (``manage.py email_worker``).

Exactly once: the task locks its notification's row and sends only while it
is pending, then marks it sent in the same transaction; a second task for
the same notification, on any worker, finds it sent. A mail server that is
down or says "try later" (4xx) is tried again with back-off, by a new task
due then; one that refuses the address for good (5xx) ends it as failed
and marks the address as bouncing, so nothing more is sent to it until it
changes. Every outcome is counted in /metrics (``notifications.metrics``).
"""

import logging
import smtplib
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from accounts.models import Role, User
from chat.models import Message, ReadState
from chat.selectors import last_team_reply_id
from chat.socket_counts import open_anywhere_sync
from notifications import emails
from notifications.models import Notification

logger = logging.getLogger(__name__)

Kind, State = Notification.Kind, Notification.State

MESSAGES_SHOWN = 5
RETRY_MAX_SECONDS = 3600
# NOTIFY_RETRY_SECONDS (30 s), doubling to hourly: about a day in all.
MAX_ATTEMPTS = 30
# A customer still connected (a tab left open, say) is looked at again
# this often, or every NOTIFY_AFTER_SECONDS when that is shorter.
CONNECTED_RECHECK_SECONDS = 60


@task()
def send_notification(notification_id: int) -> str:
    """Send notification ``notification_id`` if it is still due; what happened."""
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update()
            .select_related("recipient", "thread")
            .filter(pk=notification_id)
            .first()
        )
        if notification is None or notification.state != State.PENDING:
            return "not pending"
        return _deliver(notification)


def _deliver(notification: Notification) -> str:
    recipient = notification.recipient
    wanted = (
        recipient.notify_replies
        if notification.kind == Kind.REPLY
        else recipient.notify_new_conversations
    )
    reachable = (
        recipient.is_active
        and recipient.email
        and recipient.email_verified
        and recipient.email_bounced_at is None
    )
    if not (settings.EMAIL_ENABLED and wanted and reachable):
        return _end(notification, State.CANCELLED, "not wanted")
    if notification.kind == Kind.REPLY:
        replies = _unseen_replies(notification.thread_id)
        if not replies:
            return _end(notification, State.CANCELLED, "seen")
        if open_anywhere_sync(notification.thread_id):
            recheck = min(CONNECTED_RECHECK_SECONDS, settings.NOTIFY_AFTER_SECONDS)
            return _retry_at(notification, recheck, "connected")
        return _send(notification, lambda: emails.unseen_replies(recipient, replies))
    messages = _unanswered(notification.thread_id)
    return _send(
        notification,
        lambda: emails.customer_waiting(recipient, notification.thread, messages),
    )


def _unseen_replies(thread_id: int) -> list[Message]:
    mark = (
        ReadState.objects.filter(reader_id=thread_id, thread_id=thread_id)
        .values_list("last_read_id", flat=True)
        .first()
    ) or 0
    newest = Message.objects.filter(
        thread_id=thread_id, sender_role=Role.ADMIN, note=False, id__gt=mark
    ).order_by("-id")[:MESSAGES_SHOWN]
    return list(reversed(newest))


def _unanswered(thread_id: int) -> list[Message]:
    """The customer's messages since the team's last reply (the last five)."""
    last_reply = last_team_reply_id(thread_id) or 0
    newest = Message.objects.filter(
        thread_id=thread_id, sender_id=thread_id, id__gt=last_reply
    ).order_by("-id")[:MESSAGES_SHOWN]
    return list(reversed(newest))


def _send(notification: Notification, compose) -> str:
    """Send the email ``compose()`` makes, and record how that went."""
    try:
        compose().send()
    except smtplib.SMTPRecipientsRefused as err:
        codes = [code for code, _ in err.recipients.values()]
        if codes and min(codes) >= 500:
            return _bounced(notification, f"refused: {codes}")
        return _failed_attempt(notification, f"recipient refused: {codes}")
    except smtplib.SMTPResponseException as err:
        if err.smtp_code >= 500 and isinstance(err, smtplib.SMTPDataError):
            return _bounced(notification, f"{err.smtp_code} {_text(err.smtp_error)}")
        return _failed_attempt(notification, f"{err.smtp_code} {_text(err.smtp_error)}")
    except (smtplib.SMTPException, OSError) as err:
        return _failed_attempt(notification, f"{type(err).__name__}: {err}")
    except ValueError as err:
        # An address Django will not put in a header: trying again cannot help.
        logger.warning("email notification %s unsendable: %s", notification.pk, err)
        notification.last_error = str(err)[:300]
        notification.save(update_fields=["last_error"])
        return _end(notification, State.FAILED, "unsendable")
    notification.state = State.SENT
    notification.sent_at = timezone.now()
    notification.attempts += 1
    notification.last_error = ""
    notification.save(update_fields=["state", "sent_at", "attempts", "last_error"])
    logger.info(
        "email notification %s (%s) sent to user %s",
        notification.pk,
        notification.kind,
        notification.recipient_id,
    )
    return "sent"


def _text(error) -> str:
    return error.decode(errors="replace") if isinstance(error, bytes) else str(error)


def _end(notification: Notification, state: str, why: str) -> str:
    notification.state = state
    notification.closed = True
    notification.save(update_fields=["state", "closed"])
    return why


def _bounced(notification: Notification, error: str) -> str:
    """The server refused the address for good: stop writing to it."""
    User.objects.filter(pk=notification.recipient_id).update(
        email_bounced_at=timezone.now()
    )
    notification.last_error = error[:300]
    notification.attempts += 1
    logger.warning(
        "email notification %s: the address of user %s was refused (%s)",
        notification.pk,
        notification.recipient_id,
        error,
    )
    notification.save(update_fields=["last_error", "attempts"])
    return _end(notification, State.FAILED, "bounced")


def _failed_attempt(notification: Notification, error: str) -> str:
    notification.attempts += 1
    notification.last_error = error[:300]
    logger.warning(
        "email notification %s not sent (attempt %d): %s",
        notification.pk,
        notification.attempts,
        error,
    )
    if notification.attempts >= MAX_ATTEMPTS:
        notification.save(update_fields=["attempts", "last_error"])
        return _end(notification, State.FAILED, "gave up")
    delay = min(
        RETRY_MAX_SECONDS,
        settings.NOTIFY_RETRY_SECONDS * 2 ** (notification.attempts - 1),
    )
    return _retry_at(notification, delay, "will retry")


def _retry_at(notification: Notification, seconds: float, why: str) -> str:
    """Due again in ``seconds``, by a new task stored with this transaction."""
    notification.due_at = timezone.now() + timedelta(seconds=seconds)
    notification.save(update_fields=["due_at", "attempts", "last_error"])
    send_notification.using(run_after=notification.due_at).enqueue(notification.pk)
    return why
