"""Email addresses proven by a signed link: the link, its check, and the email
that carries it (issue 15). Nothing else is emailed to an address until then.

A link names the account and a digest of the address it was sent to, so a
link for an address since replaced never verifies the new one. It holds a
digest rather than the address because links end up in access logs.
"""

import enum
import hashlib
import logging
import smtplib
import unicodedata
from email.utils import formataddr

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from accounts.models import User
from chat.limits import Rate, limits

logger = logging.getLogger(__name__)

SALT = "accounts.email_verification"
# Long enough for someone who reads their mail over a weekend; short enough
# that a link found in an old mailbox is of no use.
LINK_MAX_AGE_SECONDS = 3 * 24 * 3600
# The page waits for the mail server: a stalled one costs a few seconds, not
# the notification worker's whole EMAIL_TIMEOUT.
SEND_TIMEOUT_SECONDS = 5
# Each link is an email to an address someone typed: three at once, then one
# every ten minutes, per account and per address (no mail bombing through
# "send again" or through many accounts).
VERIFICATION_EMAILS = Rate("verification_email", 1 / 600, 3)


class AddressState(enum.StrEnum):
    """What the account page says of a person's address."""

    NONE = "none"
    UNVERIFIED = "unverified"
    VERIFIED = "verified"
    BOUNCED = "bounced"


class Outcome(enum.StrEnum):
    """What following a verification link did."""

    VERIFIED = "verified"
    EXPIRED = "expired"
    INVALID = "invalid"
    OTHER_ADDRESS = "other_address"


class EmailNotSent(Exception):
    """The verification email was not sent; the message says why, for the person."""


class TooManyEmails(EmailNotSent):
    """Over :data:`VERIFICATION_EMAILS` for this account or this address."""


class MailServerUnavailable(EmailNotSent):
    """The mail server could not be reached, or refused the message."""


class UnusableAddress(EmailNotSent):
    """The stored address cannot be written into a header (set from a shell)."""


def address_state(user: User) -> AddressState:
    """The state of ``user``'s address: none, unverified, verified or bounced."""
    if not user.email:
        return AddressState.NONE
    if user.email_bounced_at is not None:
        return AddressState.BOUNCED
    return AddressState.VERIFIED if user.email_verified else AddressState.UNVERIFIED


def _digest(address: str) -> str:
    return hashlib.sha256(address.encode()).hexdigest()[:32]


def link_token(user: User) -> str:
    """A signed, timestamped token for ``user``'s current address."""
    payload = {"u": user.pk, "a": _digest(user.email)}
    return signing.dumps(payload, salt=SALT)


def link_url(user: User) -> str:
    """The absolute verification link (from SITE_URL: emails have no request)."""
    path = reverse("account-verify", args=[link_token(user)])
    return f"{settings.SITE_URL}{path}"


def address_verify(*, token: str) -> tuple[Outcome, User | None]:
    """Mark the address a link was sent to verified, if it is still the account's.

    Returns what happened and, when the link named an existing account, it.
    """
    try:
        payload = signing.loads(token, salt=SALT, max_age=LINK_MAX_AGE_SECONDS)
    except signing.SignatureExpired:
        return Outcome.EXPIRED, None
    except signing.BadSignature:
        return Outcome.INVALID, None
    if (
        not isinstance(payload, dict)
        or type(payload.get("u")) is not int
        or not isinstance(payload.get("a"), str)
    ):
        return Outcome.INVALID, None
    user = User.objects.filter(pk=payload["u"]).first()
    if user is None:
        return Outcome.INVALID, None
    if not user.email or _digest(user.email) != payload["a"]:
        return Outcome.OTHER_ADDRESS, user
    # Conditional on the address, so a change committed since the read above
    # is never marked verified by a link for the address before it.
    updated = User.objects.filter(pk=user.pk, email=user.email).update(
        email_verified=True, email_bounced_at=None
    )
    if not updated:
        return Outcome.OTHER_ADDRESS, user
    user.email_verified, user.email_bounced_at = True, None
    return Outcome.VERIFIED, user


def header_safe_name(name: str) -> str:
    """``name`` fit for a To header: control characters and line breaks as spaces,
    and no RFC 2047 encoded word (``=?utf-8?q?...?=``) left to decode.

    formataddr quotes and escapes the rest. A CR or LF, typed or hidden in an
    encoded word (Python's address parser decodes those even when quoted),
    would make Django refuse the message rather than send it.
    """
    words = "".join(
        " " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in name
    )
    return " ".join(words.split()).replace("=?", "= ?")


def recipient(user: User) -> str:
    """``"Name" <address>`` for ``user``.

    Raises ValueError for an address that no header may hold.
    """
    address = user.email
    if not address or any(unicodedata.category(c) == "Cc" for c in address):
        raise ValueError("not an address that can be written into a header")
    return formataddr((header_safe_name(user.name), address))


def verification_email(user: User, *, language: str) -> EmailMultiAlternatives:
    """The email with the link, in ``language``: plain text and HTML alternatives."""
    context = {
        "name": header_safe_name(user.name),
        "link": link_url(user),
        "days": LINK_MAX_AGE_SECONDS // 86400,
        "site_url": settings.SITE_URL,
    }
    with translation.override(language):
        subject = render_to_string("accounts/email/verify_subject.txt", context)
        text = render_to_string("accounts/email/verify.txt", context)
        html = render_to_string("accounts/email/verify.html", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient(user)],
    )
    message.attach_alternative(html, "text/html")
    return message


def verification_email_send(*, user: User, language: str) -> None:
    """Send ``user`` a link for their current address, now, with a short timeout.

    Raises :class:`TooManyEmails`, :class:`UnusableAddress` or
    :class:`MailServerUnavailable`.
    """
    if not (
        limits.allow_sync(VERIFICATION_EMAILS, f"user:{user.pk}")
        and limits.allow_sync(VERIFICATION_EMAILS, f"address:{_digest(user.email)}")
    ):
        raise TooManyEmails("too many verification emails")
    try:
        message = verification_email(user, language=language)
    except ValueError as err:
        raise UnusableAddress(str(err)) from err
    timeout = min(settings.EMAIL_TIMEOUT or SEND_TIMEOUT_SECONDS, SEND_TIMEOUT_SECONDS)
    try:
        message.connection = get_connection(timeout=timeout)
        message.send()
    except ValueError as err:
        # Django's own refusal of a header it cannot write safely.
        logger.warning("verification email for %s not sent: bad address", user.username)
        raise UnusableAddress(str(err)) from err
    except (smtplib.SMTPException, OSError) as err:
        # The error's class only: an SMTP answer may quote the message.
        logger.warning(
            "verification email for %s not sent: %s", user.username, type(err).__name__
        )
        raise MailServerUnavailable(type(err).__name__) from err
    logger.info("verification email sent for %s", user.username)


def verification_email_try(*, user: User, language: str) -> bool:
    """:func:`verification_email_send`, for sign-up: False instead of raising.

    The account page offers "send the link again" for an address left
    unverified, so a sign-up never fails for the mail server's sake.
    """
    try:
        verification_email_send(user=user, language=language)
    except EmailNotSent:
        return False
    return True
