"""Users with a support role, and the revocation records tokens are checked against."""

import unicodedata

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models, transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.signals import sessions_ended


class Role(models.TextChoices):
    ADMIN = "admin", _("Support team")
    USER = "user", _("User")


class Availability(models.TextChoices):
    """What an admin says of themselves while connected (PROTOCOL.md 5.2)."""

    ONLINE = "online", _("Available")
    AWAY = "away", _("Away")


def username_key_for(username: str) -> str:
    """The form of ``username`` that must be unique: NFKC, then case-folded.

    Not SQL's lower(): SQLite's folds ASCII only, and neither folds width.
    """
    return unicodedata.normalize("NFKC", username).casefold()


class UserQuerySet(models.QuerySet):
    def bulk_create(self, objs, *args, **kwargs):
        """As Django's, filling in each ``username_key``, which ``save()`` sets."""
        objs = list(objs)
        for user in objs:
            user.username_key = username_key_for(user.username)
        return super().bulk_create(objs, *args, **kwargs)


def is_admin_role(role: str) -> bool:
    """Whether ``role`` is the support team's: the one role check, for a
    ``User`` (``is_support_admin``) and for a role read as a raw value."""
    return role == Role.ADMIN


class ChatUserManager(UserManager.from_queryset(UserQuerySet)):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        """Superusers are support admins too: they answer in the inbox."""
        extra_fields.setdefault("role", Role.ADMIN)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    """A person who signs in: a user asking for support, or an admin answering.

    ``tokens_valid_after`` moves forward whenever every token of the user must
    stop working: sign out everywhere, a password, role or username change,
    deactivation.
    """

    # The fields whose change revokes every token issued before it. The
    # username is one: sessions belong to an account, and a renamed
    # account's sockets sit in groups named after its old name.
    REVOKING_FIELDS = ("password", "role", "is_active", "username")

    role = models.CharField(
        _("role"), max_length=10, choices=Role.choices, default=Role.USER
    )
    display_name = models.CharField(_("display name"), max_length=150, blank=True)
    # Kept across reconnects and processes; read with the user at every
    # handshake, so presence costs no query of its own.
    availability = models.CharField(
        _("availability"),
        max_length=10,
        choices=Availability.choices,
        default=Availability.ONLINE,
        db_default=Availability.ONLINE,
    )
    # The address is AbstractUser's ``email``; nothing is sent to it until a
    # signed link proves it reaches this person (accounts.email_verification).
    email_verified = models.BooleanField(
        _("email verified"), default=False, db_default=False
    )
    # Set when a mail server refused the address for good: nothing more is
    # sent to it until it changes and is verified again.
    email_bounced_at = models.DateTimeField(
        _("email bounced at"), null=True, blank=True
    )
    # The language of the emails sent to this person ("": the site's).
    language = models.CharField(
        _("language"),
        max_length=10,
        choices=settings.LANGUAGES,
        blank=True,
        default="",
        db_default="",
    )
    # Customers: email me the team's replies I have not seen.
    notify_replies = models.BooleanField(
        _("email me replies I have not seen"), default=True, db_default=True
    )
    # Admins: email me when a customer writes and nobody of the team is online.
    notify_new_conversations = models.BooleanField(
        _("email me when a customer writes while the team is offline"),
        default=False,
        db_default=False,
    )
    tokens_valid_after = models.DateTimeField(
        _("tokens valid after"),
        null=True,
        blank=True,
        help_text=_("Tokens issued before this instant are refused."),
    )
    # Unique so that the database, not a racy check in a form, refuses
    # "RACERX" beside "racerx" and a fullwidth "Ana" beside "ana". Room for
    # case folding, which can lengthen a name (ß -> ss).
    username_key = models.CharField(max_length=600, unique=True, editable=False)

    objects = ChatUserManager()

    @property
    def is_support_admin(self) -> bool:
        return is_admin_role(self.role)

    @property
    def name(self) -> str:
        """The name shown in the chat: the display name, else the username."""
        return self.display_name or self.username

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._loaded_revoking_state = instance._revoking_state()
        return instance

    def _revoking_state(self) -> tuple:
        return tuple(self.__dict__.get(field) for field in self.REVOKING_FIELDS)

    def revoking_change(self) -> bool:
        """True when a field whose change must end the user's sessions changed."""
        loaded = getattr(self, "_loaded_revoking_state", None)
        return loaded is not None and loaded != self._revoking_state()

    def check_password(self, raw_password):
        # Django re-hashes an outdated password hash here and saves it; that
        # is not a password change and must not sign the user out everywhere.
        self._upgrading_hash = True
        try:
            return super().check_password(raw_password)
        finally:
            self._upgrading_hash = False

    async def acheck_password(self, raw_password):
        self._upgrading_hash = True
        try:
            return await super().acheck_password(raw_password)
        finally:
            self._upgrading_hash = False

    def save(self, *args, **kwargs):
        self.username_key = username_key_for(self.username)
        if "username" in (kwargs.get("update_fields") or ()):
            kwargs["update_fields"] = {*kwargs["update_fields"], "username_key"}
        # Done here rather than in each view so that the Django admin, the
        # API and code in `manage.py shell` all end the sessions alike.
        ending = self.revoking_change() and not getattr(self, "_upgrading_hash", False)
        if not ending:
            super().save(*args, **kwargs)
            self._loaded_revoking_state = self._revoking_state()
            return
        loaded_username = self._loaded_revoking_state[
            self.REVOKING_FIELDS.index("username")
        ]
        self.tokens_valid_after = timezone.now()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "tokens_valid_after"}
        with transaction.atomic(using=kwargs.get("using") or self._state.db):
            super().save(*args, **kwargs)
            self._loaded_revoking_state = self._revoking_state()
            end_sessions(
                self,
                username=loaded_username,
                issued_before=self.tokens_valid_after.timestamp(),
            )


class RevokedToken(models.Model):
    """A single token signed out before its expiry; kept until it expires."""

    token_id = models.CharField(max_length=80, primary_key=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    expires_at = models.DateTimeField(db_index=True)
    revoked_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.token_id} (until {self.expires_at:%Y-%m-%d %H:%M})"


class SessionEnd(models.Model):
    """A journal entry for every event that ended sessions (PROTOCOL.md 3.4).

    Written in the same transaction as the change that caused it. Every server
    process reads the recent entries every few seconds (``chat.revocations``),
    so a socket is closed even when the live announcement never reached its
    process (the channel layer was down, or the change came from a shell).
    """

    # No foreign key: the entry for a deleted account must outlive the account.
    user_id = models.BigIntegerField()
    # The name the account's sockets joined their group under (the old name
    # when the account was renamed).
    username = models.CharField(max_length=150)
    # One token signed out, or every token issued before an instant.
    token_id = models.CharField(max_length=80, null=True, blank=True)  # noqa: DJ001 (None: no single token)
    issued_before = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self):
        return f"{self.username} ({self.created_at:%Y-%m-%d %H:%M:%S})"


def end_sessions(
    user: User,
    *,
    username: str | None = None,
    token_id: str | None = None,
    issued_before: float | None = None,
) -> None:
    """Record that sessions of ``user`` ended, and announce it to open sockets.

    One token (``token_id``), or every token issued before ``issued_before``
    (a Unix timestamp). ``username`` is the name its sockets joined under, when it is
    no longer ``user.username``. Call it inside the transaction that made
    the change: the record commits with it, and the announcement
    (``accounts.signals.sessions_ended``) is sent only once it has.
    """
    username = username or user.username
    SessionEnd.objects.create(
        user_id=user.pk,
        username=username,
        token_id=token_id,
        issued_before=issued_before,
    )
    sessions_ended.send(
        sender=User,
        user_id=user.pk,
        username=username,
        token_id=token_id,
        issued_before=issued_before,
    )


@receiver(post_delete, sender=User, dispatch_uid="accounts.end_deleted_sessions")
def _end_deleted_account_sessions(sender, instance: User, **kwargs) -> None:
    # Deleting from the admin, a queryset or the shell: the sockets of the
    # account go too, and its name may be registered again at once. Every
    # token issued until now: a later account never inherits the entry.
    end_sessions(instance, issued_before=timezone.now().timestamp())
