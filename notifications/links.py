"""Signed links in emails: unsubscribing needs no sign-in, only the link.

The link names the person and the kind of email; it cannot be forged
without SECRET_KEY, and never expires (an unsubscribe link in an old email
must still work).
"""

from django.conf import settings
from django.core import signing
from django.urls import reverse

UNSUBSCRIBE_SALT = "notifications.unsubscribe"


def unsubscribe_token(user_id: int, kind: str) -> str:
    return signing.dumps(
        {"u": user_id, "k": kind}, salt=UNSUBSCRIBE_SALT, compress=True
    )


def unsubscribe_target(token: str) -> tuple[int, str] | None:
    """(user id, kind) of a genuine token, else None."""
    try:
        payload = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(payload, dict):
        return None
    user_id, kind = payload.get("u"), payload.get("k")
    if not isinstance(user_id, int) or not isinstance(kind, str):
        return None
    return user_id, kind


def absolute(path: str) -> str:
    """``path`` on the site, for an email (no request to take the host from)."""
    return settings.SITE_URL + path


def unsubscribe_url(user_id: int, kind: str) -> str:
    token = unsubscribe_token(user_id, kind)
    return absolute(reverse("unsubscribe", args=[token]))
