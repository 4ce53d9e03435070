"""Stored messages, one summary row per thread, who has read what, canned replies."""

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
    """Each thread's newest message: the inbox is an index scan, not a GROUP BY."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="support_thread",
    )
    last_message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    def __str__(self):
        return f"thread of {self.user_id}"


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
