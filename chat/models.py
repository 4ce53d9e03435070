"""Stored messages, each thread's desk state, who has read what, canned replies."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Message(models.Model):
    """One message in a user's support thread, as it was sent.

    The sender's name and role are kept as they were when the message was
    sent, so history shows exactly what was delivered live.
    """

    # No index of its own: the composite (thread, id) index below serves
    # lookups by thread, and one index fewer is one write fewer per message.
    thread = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    # PROTECT: deleting an admin must not erase the answers they gave;
    # deactivate them instead.
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    sender_name = models.CharField(max_length=150)
    sender_role = models.CharField(max_length=10)
    text = models.TextField()
    # NULL, not "": a client that sent no client_id is echoed null, and "" is
    # an id a client may legitimately use.
    client_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(default=timezone.now)
    # An internal note of the team: delivered to admins only, never shown to
    # the thread's user (PROTOCOL.md 4).
    note = models.BooleanField(default=False, db_default=False)

    class Meta:
        indexes = [
            # History pages: a range scan over one thread's ids.
            models.Index(fields=["thread", "id"], name="message_thread_id"),
            # Unread counts: the thread user's own messages after a read mark.
            models.Index(
                fields=["thread", "sender", "id"], name="message_thread_sender_id"
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {self.sender_name} -> {self.thread_id}"


class Thread(models.Model):
    """A thread as the support desk sees it: its newest message, whether it is
    open, who owns it and since when the customer waits (PROTOCOL.md 4).

    Kept in step with the messages by the batch that stores them
    (``chat.desk``), so the inbox and its filters are index scans, not a
    GROUP BY over the messages.
    """

    OPEN, RESOLVED = "open", "resolved"
    STATUSES = ((OPEN, _("open")), (RESOLVED, _("resolved")))

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="support_thread",
    )
    last_message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    status = models.CharField(
        _("status"), max_length=10, choices=STATUSES, default=OPEN
    )
    # SET_NULL: a deleted admin's conversations go back to the team.
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # When the oldest customer message after the team's last reply was sent;
    # NULL when the newest message (notes aside) is the team's: NULL is
    # "needs no reply".
    waiting_since = models.DateTimeField(_("waiting since"), null=True, blank=True)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        indexes = [
            # "Mine" and "Unassigned", walked newest first. Status has no
            # index of its own: every index holding last_message is
            # rewritten with each message, and "open" or "resolved" is
            # found within a few rows of the last_message index anyway.
            models.Index(
                fields=["assignee", "last_message"], name="thread_assignee_last"
            ),
            # "Needs reply", oldest waiting first.
            models.Index(
                fields=["waiting_since", "user"],
                name="thread_waiting",
                condition=models.Q(waiting_since__isnull=False),
            ),
        ]

    def __str__(self):
        return f"thread of {self.user_id}"

    @property
    def needs_reply(self) -> bool:
        return self.waiting_since is not None


class ReadState(models.Model):
    """How far a reader has read a thread (the highest message id seen)."""

    reader = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    thread = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    last_read_id = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["reader", "thread"], name="readstate_reader_thread"
            )
        ]

    def __str__(self):
        return f"{self.reader_id} read {self.thread_id} up to #{self.last_read_id}"


class CannedReply(models.Model):
    """A ready-made answer the team inserts in the composer by its shortcut.

    ``{name}`` in the text stands for the customer's display name (PROTOCOL.md 4).
    """

    shortcut = models.SlugField(
        _("shortcut"),
        max_length=40,
        unique=True,
        help_text=_("Typed after / in the composer, e.g. refund."),
    )
    text = models.TextField(
        _("text"),
        max_length=4000,
        help_text=_("{name} stands for the customer's display name."),
    )

    class Meta:
        ordering = ["shortcut"]
        verbose_name = _("canned reply")
        verbose_name_plural = _("canned replies")

    def __str__(self):
        return f"/{self.shortcut}"
