"""Writes behind the account page: what a person changes about themselves.

Each saves only its own fields. A password change goes through ``User.save``,
which ends every session of the account (``User.REVOKING_FIELDS``); the page
then signs this browser in again.
"""

from accounts.models import User


def profile_rename(*, user: User, display_name: str) -> None:
    """Set the name shown in the chat ("" shows the username)."""
    user.display_name = display_name
    user.save(update_fields=["display_name"])


def profile_email_change(*, user: User, email: str) -> bool:
    """Set the address ("" removes it); False when it is already the address.

    A new address is unverified and has bounced nowhere yet: nothing is sent
    to it until a link proves it reaches this person.
    """
    if email == user.email:
        return False
    user.email = email
    user.email_verified = False
    user.email_bounced_at = None
    user.save(update_fields=["email", "email_verified", "email_bounced_at"])
    return True


def profile_notifications_set(*, user: User, enabled: bool) -> None:
    """Opt in or out of this person's kind of email, chosen by their role.

    The team: a customer wrote while nobody of the team was online.
    Customers: replies of the team they have not seen.
    """
    field = "notify_new_conversations" if user.is_support_admin else "notify_replies"
    setattr(user, field, enabled)
    user.save(update_fields=[field])


def profile_notifications_enabled(user: User) -> bool:
    """Whether this person gets their kind of email (by role, as set above)."""
    if user.is_support_admin:
        return user.notify_new_conversations
    return user.notify_replies


def profile_language_set(*, user: User, language: str) -> None:
    """The language of this person's emails (and, through its cookie, pages)."""
    if language != user.language:
        user.language = language
        user.save(update_fields=["language"])


def profile_password_change(*, user: User, password: str) -> None:
    """Set a new password; every token of the account issued until now stops working."""
    user.set_password(password)
    user.save(update_fields=["password"])
