"""Verification links and the email that carries them, sent to a real SMTP
server (aiosmtpd, tests/mailbox.py): the link's outcomes, the email's
languages and parts, header injection, a mail server that is down."""

import logging
import socket
import time
from email.headerregistry import Address

import pytest
from django.core import mail, signing
from django.test import Client

from accounts import email_verification
from accounts.email_verification import SALT, link_token
from accounts.models import User
from tests.conftest import free_port
from tests.integration.account_helpers import (
    forget_rates,
    link_path,
    post_section,
    sending_to_mailbox,
    shown_messages,
)
from tests.integration.http_helpers import csrf_client, post_json
from tests.mailbox import html_of, text_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_rates(monkeypatch):
    forget_rates(monkeypatch)


@pytest.fixture
def mailbox(settings):
    with sending_to_mailbox(settings) as box:
        yield box


SMTP_DOWN = "We could not send the email just now; try again in a moment."
GOOD_PASSWORD = "a long and unusual passphrase 42"


def reloaded(user: User) -> User:
    return User.objects.get(pk=user.pk)


@pytest.fixture
def rita(make_user) -> User:
    return make_user("rita", name="Rita Pérez", email="rita@example.com")


class FrozenClock:
    """Stands in for the ``time`` module inside django.core.signing."""

    def __init__(self, offset_seconds: float):
        self.offset = offset_seconds

    def time(self) -> float:
        return time.time() + self.offset


# The link --------------------------------------------------------------------------


def test_the_link_verifies_the_address_without_signing_in(rita):
    User.objects.filter(pk=rita.pk).update(email_bounced_at="2026-01-01T00:00Z")

    response = Client().get(f"/account/verify/{link_token(rita)}")

    assert response.status_code == 200
    assert "rita@example.com" in response.content.decode()
    assert "Address verified" in response.content.decode()
    stored = reloaded(rita)
    assert (stored.email_verified, stored.email_bounced_at) == (True, None)
    assert "no-store" in response["Cache-Control"]


def test_a_link_older_than_three_days_has_expired(rita, monkeypatch):
    monkeypatch.setattr(signing, "time", FrozenClock(-(3 * 24 * 3600 + 5)))
    token = link_token(rita)
    monkeypatch.undo()

    response = Client().get(f"/account/verify/{token}")

    assert "The link has expired" in response.content.decode()
    assert not reloaded(rita).email_verified


def test_a_link_of_two_days_still_works(rita, monkeypatch):
    monkeypatch.setattr(signing, "time", FrozenClock(-2 * 24 * 3600))
    token = link_token(rita)
    monkeypatch.undo()

    assert "Address verified" in (
        Client().get(f"/account/verify/{token}").content.decode()
    )


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: "x" + t,
        lambda t: t.split(":")[0],
        lambda t: signing.dumps({"u": 1, "a": "x"}, salt="another purpose"),
        lambda t: signing.dumps([1, 2], salt=SALT),
        lambda t: signing.dumps({"u": "1", "a": 5}, salt=SALT),
        lambda t: signing.dumps({"u": 10**30, "a": "x"}, salt=SALT),
        lambda t: "%00%ff" * 400,
    ],
)
def test_a_tampered_or_foreign_link_is_refused(rita, tamper):
    response = Client().get(f"/account/verify/{tamper(link_token(rita))}")

    assert response.status_code == 200
    assert "This link does not work" in response.content.decode()
    assert "The link is not valid" in response.content.decode()
    assert not reloaded(rita).email_verified


def test_a_refused_link_is_never_logged(rita, caplog):
    caplog.set_level(logging.DEBUG)
    token = link_token(rita)

    Client().get(f"/account/verify/{token[:-2]}")

    assert all(token[:30] not in r.getMessage() for r in caplog.records)


def test_a_link_for_an_old_address_never_verifies_the_new_one(rita, client_for):
    old_link = link_token(rita)
    post_section(client_for(rita), "email", email="rita@new.example")

    response = Client().get(f"/account/verify/{old_link}")

    assert "an address this account no longer has" in response.content.decode()
    assert "rita@new.example" not in response.content.decode()
    assert not reloaded(rita).email_verified


def test_the_link_of_a_deleted_account_is_refused(rita):
    token = link_token(rita)
    rita.delete()

    assert "The link is not valid" in (
        Client().get(f"/account/verify/{token}").content.decode()
    )


# The email, through a real SMTP server ----------------------------------------------


def test_the_email_has_text_and_html_and_its_link_verifies(rita, client_for, mailbox):
    post_section(client_for(rita), "send_again")

    [message] = mailbox.wait_for(1, "rita@example.com")
    assert message["Subject"] == "Confirm your email address"
    assert message["From"] == "Support <support@localhost>"
    assert message["To"].addresses == (
        Address("Rita Pérez", addr_spec="rita@example.com"),
    )
    text, html = text_of(message), html_of(message)
    assert "Hello Rita Pérez," in text
    assert "The link works for 3 days." in text
    assert link_path(text) == link_path(html)
    assert link_path(text).startswith("/account/verify/")
    assert text.count("http://127.0.0.1:8000/account/verify/") == 1

    Client().get(link_path(text))

    assert reloaded(rita).email_verified
    page = client_for(rita).get("/account").content.decode()
    assert '<span class="address__state">verified</span>' in page


def test_the_email_is_in_the_persons_language_else_the_pages(
    rita, make_user, client_for, mailbox
):
    rita.language = "es"
    rita.save()
    luis = make_user("luis", email="luis@example.com")

    post_section(client_for(rita), "send_again")
    spanish_page = client_for(luis)
    spanish_page.cookies["django_language"] = "es"
    post_section(spanish_page, "send_again")

    for address in ("rita@example.com", "luis@example.com"):
        [message] = mailbox.wait_for(1, address)
        assert message["Subject"] == "Confirma tu dirección de correo"
        assert "El enlace funciona durante 3 días." in text_of(message)


def test_the_names_in_the_html_part_are_escaped(make_user, client_for, mailbox):
    person = make_user("eve", name="<b>Eve</b> & co", email="eve@example.com")

    post_section(client_for(person), "send_again")

    [message] = mailbox.wait_for(1, "eve@example.com")
    assert "&lt;b&gt;Eve&lt;/b&gt; &amp; co" in html_of(message)
    assert "<b>Eve</b>" not in html_of(message)


@pytest.mark.parametrize(
    "name",
    [
        "Ana\r\nBcc: evil@example.net",
        "Ana\nBcc: evil@example.net",
        "Ana\rCc: evil@example.net",
        'Ana" <evil@example.net>, "x',
        "Ana\u2028Bcc: evil@example.net",
        "=?utf-8?q?Ana=0D=0ABcc:_evil@example.net?=",
    ],
)
def test_a_display_name_never_adds_a_header_or_a_recipient(
    make_user, client_for, mailbox, name
):
    person = make_user("ana", name=name, email="ana@example.com")

    response = post_section(client_for(person), "send_again", follow=True)

    assert shown_messages(response)[0].startswith("We sent a link")
    [message] = mailbox.wait_for(1)
    assert mailbox.envelopes == [["ana@example.com"]]
    assert "Bcc" not in message and "Cc" not in message
    [to] = message["To"].addresses
    assert to.addr_spec == "ana@example.com"
    assert "\n" not in to.display_name and "\r" not in to.display_name
    assert set(message.keys()) == {
        "Content-Type",
        "MIME-Version",
        "Subject",
        "From",
        "To",
        "Date",
        "Message-ID",
    }


def test_an_address_with_a_line_break_is_refused_everywhere(user, client_for, mailbox):
    injected = "ana@example.com\r\nBcc: evil@example.net"

    page = post_section(client_for(user), "email", email=injected)
    api = post_json(
        csrf_client(),
        "/api/auth/register",
        {"username": "eve", "email": injected, "password": GOOD_PASSWORD},
    )
    user.email = injected  # as code in a shell might
    user.save()
    again = post_section(client_for(user), "send_again", follow=True)

    assert page.status_code == 400
    assert api.status_code == 400
    assert "email" in api.json()["fields"]
    assert shown_messages(again) == ["This address cannot be used: change it."]
    time.sleep(0.2)
    assert mailbox.messages == []


# Registration ----------------------------------------------------------------------


def test_the_api_registers_with_an_address_and_sends_the_link(db, mailbox):
    response = post_json(
        csrf_client(),
        "/api/auth/register",
        {
            "username": "marta",
            "name": "Marta",
            "email": "marta@example.com",
            "password": GOOD_PASSWORD,
        },
    )

    assert response.status_code == 201, response.content
    assert set(response.json()) == {"user", "name", "rol", "expires_at"}
    [message] = mailbox.wait_for(1, "marta@example.com")
    Client().get(link_path(text_of(message)))
    assert User.objects.get(username="marta").email_verified


def test_the_api_registers_without_an_address_as_before(db, mailbox):
    response = post_json(
        csrf_client(),
        "/api/auth/register",
        {"username": "marta", "password": GOOD_PASSWORD, "email": None},
    )

    assert response.status_code == 201, response.content
    assert User.objects.get(username="marta").email == ""
    time.sleep(0.2)
    assert mailbox.messages == []


@pytest.mark.parametrize("email", ["marta@", 42, ["marta@example.com"], {"a": 1}])
def test_the_api_refuses_an_address_that_is_not_one(db, email):
    response = post_json(
        csrf_client(),
        "/api/auth/register",
        {"username": "marta", "email": email, "password": GOOD_PASSWORD},
    )

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["email"]
    assert mail.outbox == []


# A mail server that is down --------------------------------------------------------


@pytest.fixture
def smtp_down(settings):
    """Nothing listens where the mail server should be."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()
    settings.EMAIL_HOST_USER = "mailer"
    settings.EMAIL_HOST_PASSWORD = "smtp-secret-password"


def test_smtp_down_is_a_friendly_message_and_the_address_is_kept(
    user, client_for, smtp_down, caplog
):
    caplog.set_level(logging.DEBUG)

    response = post_section(
        client_for(user), "email", follow=True, email="ana@example.com"
    )

    assert response.status_code == 200
    assert shown_messages(response) == [SMTP_DOWN]
    assert reloaded(user).email == "ana@example.com"
    assert "not verified yet" in response.content.decode()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "not sent" in logged
    assert "smtp-secret-password" not in logged
    assert "/account/verify/" not in logged and link_token(user)[:20] not in logged


def test_a_server_that_refuses_the_message_is_a_friendly_message(
    rita, client_for, mailbox
):
    mailbox.refuse(550)

    response = post_section(client_for(rita), "send_again", follow=True)

    assert shown_messages(response) == [SMTP_DOWN]


def test_a_server_that_never_answers_costs_the_short_timeout_only(
    rita, client_for, settings, monkeypatch
):
    monkeypatch.setattr(email_verification, "SEND_TIMEOUT_SECONDS", 0.5)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = silent.getsockname()
        started = time.monotonic()

        response = post_section(client_for(rita), "send_again", follow=True)

    assert time.monotonic() - started < 3
    assert shown_messages(response) == [SMTP_DOWN]


def test_registration_succeeds_while_the_mail_server_is_down(db, smtp_down):
    response = Client().post(
        "/register",
        {"username": "marta", "email": "marta@example.com", "password": GOOD_PASSWORD},
    )

    assert response.status_code == 302
    assert User.objects.get(username="marta").email == "marta@example.com"
