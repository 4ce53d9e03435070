"""Helpers for the account page's tests: post one section, find the link in an
email, send through a real SMTP server (tests/mailbox.py)."""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from django.test import Client

from chat.limits import LocalRates, limits
from tests.mailbox import Mailbox, running_mailbox

LINK = re.compile(r"https?://[^\s\"<>]+/account/verify/[^\s\"<>]+")


def forget_rates(monkeypatch) -> None:
    """Count rates afresh: account ids repeat from one test to the next."""
    monkeypatch.setattr(limits, "local_rates", LocalRates())


@contextmanager
def sending_to_mailbox(settings) -> Iterator[Mailbox]:
    """A real SMTP server that Django sends to, as in production."""
    with running_mailbox() as box:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = box.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        yield box


def post_section(client: Client, form: str, follow: bool = False, **fields):
    """POST one section of /account (``form`` names it), as its form does."""
    return client.post("/account", {"form": form, **fields}, follow=follow)


def link_path(text: str) -> str:
    """The path of the one verification link in an email's text."""
    links = LINK.findall(text)
    assert len(set(links)) == 1, links
    return urlsplit(links[0]).path


def shown_messages(response) -> list[str]:
    """The messages the page shows after a redirect was followed."""
    return [str(m) for m in response.context["messages"]]
