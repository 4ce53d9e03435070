"""The emails themselves: plain text and HTML, in the recipient's language,
with the unsubscribe headers of RFC 2369 and RFC 8058.

Texts written by people (messages, names) are shown as the page shows them:
escaped in HTML (Django's autoescaping), each in its own direction-isolated
block, and bidirectional controls made visible ("[RLO]") instead of applied,
so "factura_<RLO>gnp.exe" cannot read as "factura_exe.png" in a mail client.
Headers take no such text except the recipient's name, made safe as the
verification email makes it (``accounts.email_verification.recipient``).
"""

import re
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.email_verification import recipient as email_recipient
from accounts.models import User
from chat.models import Message
from notifications.links import absolute, unsubscribe_url
from notifications.models import Notification

_BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_BIDI_NAMES = {
    "\u061c": "ALM",
    "\u200e": "LRM",
    "\u200f": "RLM",
    "\u202a": "LRE",
    "\u202b": "RLE",
    "\u202c": "PDF",
    "\u202d": "LRO",
    "\u202e": "RLO",
    "\u2066": "LRI",
    "\u2067": "RLI",
    "\u2068": "FSI",
    "\u2069": "PDI",
}


def visible_controls(text: str) -> str:
    """``text`` with each bidirectional control shown as its name in brackets."""
    return _BIDI_CONTROLS.sub(lambda match: f"[{_BIDI_NAMES[match.group()]}]", text)


@dataclass(frozen=True)
class Shown:
    """A message as an email shows it."""

    name: str
    text: str
    sent_at: object


def _shown(messages: list[Message]) -> list[Shown]:
    return [
        Shown(visible_controls(m.sender_name), visible_controls(m.text), m.created_at)
        for m in messages
    ]


def _email(
    recipient: User, kind: str, subject: str, template: str, context: dict
) -> EmailMultiAlternatives:
    unsubscribe = unsubscribe_url(recipient.pk, kind)
    context = {
        **context,
        "recipient_name": visible_controls(recipient.name),
        "unsubscribe_url": unsubscribe,
        "account_url": absolute("/account"),
        "title": subject,
    }
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"notifications/email/{template}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email_recipient(recipient)],
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            # Not a conversation to reply to, and no vacation auto-replies.
            "Auto-Submitted": "auto-generated",
        },
    )
    message.attach_alternative(
        render_to_string(f"notifications/email/{template}.html", context), "text/html"
    )
    return message


def language_of(user: User) -> str:
    return user.language or settings.LANGUAGE_CODE


def unseen_replies(recipient: User, replies: list[Message]) -> EmailMultiAlternatives:
    """To a customer: the team's replies they have not seen (the last five)."""
    with translation.override(language_of(recipient)):
        subject = _("The support team answered you")
        return _email(
            recipient,
            Notification.Kind.REPLY,
            subject,
            "unseen_replies",
            {"messages": _shown(replies), "open_url": absolute("/support")},
        )


def customer_waiting(
    recipient: User, customer: User, messages: list[Message]
) -> EmailMultiAlternatives:
    """To an admin: a customer wrote while nobody of the team was online."""
    with translation.override(language_of(recipient)):
        # The customer's name stays out of the subject: a header carries no
        # text written by customers.
        subject = _("A customer is waiting for an answer")
        return _email(
            recipient,
            Notification.Kind.NEW,
            subject,
            "customer_waiting",
            {
                "messages": _shown(messages),
                "customer_name": visible_controls(customer.name),
                "customer_username": visible_controls(customer.username),
                "open_url": absolute("/support"),
            },
        )
