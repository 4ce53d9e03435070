"""One email notification: who gets it, about which thread, when it is due,
and what became of it.

A notification is a cycle: it opens when there is something to tell (a team
reply the customer has not seen; a customer writing while the team is
offline) and closes when the reason is gone (the customer read the thread;
someone of the team answered). While one is open, nothing more is opened
for the same person and thread: replies arriving meanwhile join it, and
after it was sent the next one waits for the cycle to close. The database
refuses a second open one (a partial unique index), so two server processes
cannot open two.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Notification(models.Model):
    class Kind(models.TextChoices):
        # To a customer: the team's replies they have not seen.
        REPLY = "reply", _("unseen replies")
        # To an admin: a customer wrote while nobody of the team was online.
        NEW = "new", _("customer waiting")

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        SENT = "sent", _("sent")
        CANCELLED = "cancelled", _("cancelled")
        FAILED = "failed", _("failed")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("recipient"),
    )
    # The customer whose thread it is about.
    thread = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("thread"),
    )
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.PENDING
    )
    # False while the cycle is open (see the module's docstring).
    closed = models.BooleanField(_("closed"), default=False)
    due_at = models.DateTimeField(_("due at"))
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    # The mail server's last answer when sending failed; never a password.
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("email notification")
        verbose_name_plural = _("email notifications")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "recipient", "thread"],
                condition=Q(closed=False),
                name="notification_one_open",
            )
        ]
        indexes = [
            # Closing a thread's open cycles (a read, an answer).
            models.Index(
                fields=["thread", "kind"],
                condition=Q(closed=False),
                name="notification_open_thread",
            ),
            # /metrics counts by state.
            models.Index(fields=["state"], name="notification_state"),
        ]

    def __str__(self):
        return (
            f"{self.kind} to {self.recipient_id} about {self.thread_id}: {self.state}"
        )
