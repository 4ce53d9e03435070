"""The account page (/account) through the Django test client: every section,
its refusals, and the password change that keeps this browser signed in."""

from email.utils import formataddr

import pytest
from django.core import mail
from django.test import Client

from accounts import tokens
from accounts.models import Role, SessionEnd, User
from tests.conftest import PASSWORD, token_for
from tests.integration.account_helpers import (
    forget_rates,
    post_section,
    shown_messages,
)
from tests.integration.http_helpers import client_with_token

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_rates(monkeypatch):
    forget_rates(monkeypatch)


NEW_PASSWORD = "a brand new passphrase 77"


def reloaded(user: User) -> User:
    return User.objects.get(pk=user.pk)


# The page ------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in_and_back(db):
    response = Client().get("/account")

    assert response.status_code == 302
    assert response["Location"] == "/login?next=%2Faccount"


def test_an_anonymous_post_changes_nothing(user):
    response = Client().post("/account", {"form": "name", "name": "Hacked"})

    assert response.status_code == 302
    assert reloaded(user).display_name == "Ana García"


def test_the_page_shows_each_section_and_is_never_cached(user, client_for):
    response = client_for(user).get("/account")

    page = response.content.decode()
    assert response.status_code == 200
    assert 'value="Ana García"' in page
    for section in ("name", "email", "notifications", "language", "password"):
        assert f'name="form" value="{section}"' in page
    assert "Email me the team's replies I haven't seen" in page
    assert "no-store" in response["Cache-Control"]


def test_every_page_links_a_signed_in_person_to_the_account_page(user, client_for):
    page = client_for(user).get("/").content.decode()

    assert '<a href="/account">Account</a>' in page
    assert 'href="/account"' not in Client().get("/").content.decode()


def test_the_forms_need_the_csrf_token(user):
    client = Client(enforce_csrf_checks=True)
    client.cookies[tokens.COOKIE_NAME] = token_for(user)

    response = client.post("/account", {"form": "name", "name": "Forged"})

    assert response.status_code == 403
    assert reloaded(user).display_name == "Ana García"


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"form": "nonsense"},
        {"form": "name", "name": "x" * 151},
        {"form": "name", "name": "a\x00b"},
        {"form": "email", "email": "not an address"},
        {"form": "language", "language": "fr"},
        {"form": "password", "current_password": "x" * 5000},
    ],
)
def test_bad_input_is_a_400_page_never_a_500(user, client_for, fields):
    response = client_for(user).post("/account", fields)

    assert response.status_code == 400
    assert "Your account" in response.content.decode()
    assert reloaded(user).display_name == "Ana García"


# Name -----------------------------------------------------------------------------


def test_the_display_name_is_changed_and_shown_in_the_header(user, client_for):
    response = post_section(client_for(user), "name", follow=True, name="Ana G.")

    assert reloaded(user).display_name == "Ana G."
    assert response.redirect_chain == [("/account#name", 302)]
    assert shown_messages(response) == ["Your name is saved."]
    assert '<span class="who" dir="auto" title="ana">Ana G.</span>' in (
        response.content.decode()
    )


def test_a_too_long_name_is_refused_beside_the_field(user, client_for):
    response = post_section(client_for(user), "name", name="x" * 151)

    page = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_name-errors"' in page
    assert "at most 150 characters" in page


def test_an_empty_name_shows_the_username(user, client_for):
    post_section(client_for(user), "name", name="  ")

    assert reloaded(user).display_name == ""
    assert reloaded(user).name == "ana"


# Email ----------------------------------------------------------------------------


def test_a_new_address_is_stored_unverified_and_a_link_is_sent(user, client_for):
    user.email_verified = True
    user.save()

    response = post_section(
        client_for(user), "email", follow=True, email="ana@EXAMPLE.com"
    )

    stored = reloaded(user)
    assert (stored.email, stored.email_verified) == ("ana@example.com", False)
    assert shown_messages(response) == [
        "We sent a link to ana@example.com: open it to confirm the address."
    ]
    assert [m.to for m in mail.outbox] == [
        [formataddr(("Ana García", "ana@example.com"))]
    ]
    assert "not verified yet" in response.content.decode()


def test_changing_the_address_forgets_that_the_old_one_bounced(make_user, client_for):
    bounced = make_user("rita", email="rita@old.example", email_verified=True)
    User.objects.filter(pk=bounced.pk).update(email_bounced_at="2026-01-01T00:00Z")

    post_section(client_for(bounced), "email", email="rita@new.example")

    stored = reloaded(bounced)
    assert (stored.email, stored.email_verified, stored.email_bounced_at) == (
        "rita@new.example",
        False,
        None,
    )


def test_the_same_address_again_sends_nothing(make_user, client_for):
    person = make_user("rita", email="rita@example.com", email_verified=True)

    response = post_section(
        client_for(person), "email", follow=True, email="rita@example.com"
    )

    assert shown_messages(response) == ["That is already your address."]
    assert reloaded(person).email_verified
    assert mail.outbox == []


@pytest.mark.parametrize(
    "address", ["ana", "ana@", "ana@example.com\r\nBcc: evil@example.net", "a" * 250]
)
def test_an_address_that_is_not_one_is_refused_beside_the_field(
    user, client_for, address
):
    response = post_section(client_for(user), "email", email=address)

    assert response.status_code == 400
    assert 'id="id_email-errors"' in response.content.decode()
    assert reloaded(user).email == ""
    assert mail.outbox == []


def test_an_empty_address_removes_it(make_user, client_for):
    person = make_user("rita", email="rita@example.com", email_verified=True)

    response = post_section(client_for(person), "email", follow=True, email="")

    assert shown_messages(response) == ["Your email address is removed."]
    assert (reloaded(person).email, reloaded(person).email_verified) == ("", False)


@pytest.mark.parametrize(
    ("fields", "shown"),
    [
        ({"email_verified": True}, "verified"),
        ({"email_verified": False}, "not verified yet"),
        (
            {"email_verified": True, "email_bounced_at": "2026-01-01T00:00Z"},
            "refused by the mail server",
        ),
    ],
)
def test_the_state_of_the_address_is_shown(make_user, client_for, fields, shown):
    person = make_user("rita", email="rita@example.com", **fields)

    page = client_for(person).get("/account").content.decode()

    assert f'<span class="address__state">{shown}</span>' in page
    offers_again = 'name="form" value="send_again"' in page
    assert offers_again == (shown != "verified")


def test_send_again_sends_a_new_link_and_is_limited(make_user, client_for):
    person = make_user("rita", email="rita@example.com")
    client = client_for(person)

    answers = [
        shown_messages(post_section(client, "send_again", follow=True))
        for _ in range(4)
    ]

    assert len(mail.outbox) == 3
    assert answers[-1] == [
        "You asked for several links in a short time. Try again in a few minutes."
    ]


def test_send_again_for_a_verified_address_sends_nothing(make_user, client_for):
    person = make_user("rita", email="rita@example.com", email_verified=True)

    response = post_section(client_for(person), "send_again", follow=True)

    assert shown_messages(response) == ["Your address is already verified."]
    assert mail.outbox == []


# Notifications --------------------------------------------------------------------


def test_a_customer_turns_reply_emails_off_and_on(user, client_for):
    client = client_for(user)

    post_section(client, "notifications")
    assert not reloaded(user).notify_replies
    assert 'id="id_enabled" checked' not in client.get("/account").content.decode()

    response = post_section(client, "notifications", follow=True, enabled="on")
    assert reloaded(user).notify_replies
    assert shown_messages(response) == [
        "Saved. Emails start once your address is verified."
    ]
    assert 'id="id_enabled" checked' in response.content.decode()


def test_an_admin_opts_in_to_new_conversation_emails_only(admin_user, client_for):
    client = client_for(admin_user)
    page = client.get("/account").content.decode()

    post_section(client, "notifications", enabled="on")

    stored = reloaded(admin_user)
    assert "Email me when a customer writes while nobody of the team is online" in page
    assert (stored.notify_new_conversations, stored.notify_replies) == (True, True)


# Language -------------------------------------------------------------------------


def test_the_language_is_stored_and_applied_to_the_pages(user, client_for):
    client = client_for(user)

    response = post_section(client, "language", follow=True, language="es")

    assert reloaded(user).language == "es"
    assert client.cookies["django_language"].value == "es"
    page = response.content.decode()
    assert '<html lang="es">' in page
    assert "Tu cuenta" in page
    assert shown_messages(response) == ["Tu idioma está guardado."]


def test_the_header_switcher_also_stores_the_language(user, client_for):
    client = client_for(user)

    response = client.post("/i18n/setlang/", {"language": "es", "next": "/support"})

    assert response.status_code == 302
    assert response["Location"] == "/support"
    assert reloaded(user).language == "es"
    assert Client().post("/i18n/setlang/", {"language": "es"}).status_code == 302


# Password -------------------------------------------------------------------------


def change_password(client: Client, current=PASSWORD, new=NEW_PASSWORD, again=None):
    return post_section(
        client,
        "password",
        current_password=current,
        new_password=new,
        new_password_again=new if again is None else again,
    )


def test_a_password_change_keeps_this_browser_signed_in_and_ends_the_others(
    user, client_for
):
    here, elsewhere = client_for(user), client_for(user)
    old_token = here.cookies[tokens.COOKIE_NAME].value

    response = change_password(here)

    assert response.status_code == 302
    new_token = response.cookies[tokens.COOKIE_NAME].value
    assert new_token != old_token
    assert tokens.verify(new_token).user == user
    page = here.get("/account")
    assert page.status_code == 200
    assert shown_messages(page) == [
        "Your password is changed. Your other sessions are signed out."
    ]
    assert elsewhere.get("/account").status_code == 302
    assert client_with_token(old_token).get("/api/me").status_code == 403
    assert reloaded(user).check_password(NEW_PASSWORD)
    assert SessionEnd.objects.filter(user_id=user.pk, issued_before__isnull=False)


@pytest.mark.parametrize(
    ("current", "new", "again", "field", "error"),
    [
        (
            "wrong password",
            NEW_PASSWORD,
            None,
            "current_password",
            "That is not your current password.",
        ),
        (
            PASSWORD,
            NEW_PASSWORD,
            NEW_PASSWORD + "!",
            "new_password_again",
            "The two new passwords differ.",
        ),
        (PASSWORD, "corta", None, "new_password", "This password is too short."),
        (PASSWORD, "password123", None, "new_password", "This password is too common."),
        (PASSWORD, "", None, "new_password", "This field is required."),
    ],
)
def test_a_refused_password_change_says_why_and_changes_nothing(
    user, client_for, current, new, again, field, error
):
    client = client_for(user)

    response = change_password(client, current, new, again)

    page = response.content.decode()
    assert response.status_code == 400
    assert f'id="id_{field}-errors"><li>{error}</li>' in page
    assert reloaded(user).check_password(PASSWORD)
    assert reloaded(user).tokens_valid_after is None
    assert tokens.COOKIE_NAME not in response.cookies


def test_guessing_the_current_password_is_limited(user, client_for):
    client = client_for(user)

    statuses = [change_password(client, "guess").status_code for _ in range(6)]
    last = change_password(client)

    assert statuses == [400] * 5 + [429]
    assert last.status_code == 429
    assert "Too many attempts to change the password" in last.content.decode()
    assert reloaded(user).check_password(PASSWORD)


# Registration ---------------------------------------------------------------------


GOOD_PASSWORD = "a long and unusual passphrase 42"


def test_registering_with_an_address_sends_the_link_in_the_pages_language(db):
    response = Client(HTTP_ACCEPT_LANGUAGE="es").post(
        "/register",
        {
            "username": "marta",
            "name": "Marta",
            "email": "marta@example.com",
            "password": GOOD_PASSWORD,
        },
    )

    assert response.status_code == 302
    marta = User.objects.get(username="marta")
    assert (marta.email, marta.email_verified, marta.language) == (
        "marta@example.com",
        False,
        "es",
    )
    assert [m.subject for m in mail.outbox] == ["Confirma tu dirección de correo"]


def test_registering_without_an_address_sends_nothing(db):
    response = Client().post(
        "/register", {"username": "marta", "name": "", "password": GOOD_PASSWORD}
    )

    assert response.status_code == 302
    assert User.objects.get(username="marta").email == ""
    assert mail.outbox == []


def test_the_register_page_asks_for_an_optional_address(db):
    page = Client().get("/register").content.decode()

    assert 'type="email" name="email"' in page
    assert "(optional)" in page


def test_a_bad_address_on_the_register_page_is_shown_beside_the_field(db):
    response = Client().post(
        "/register",
        {"username": "marta", "email": "marta@", "password": GOOD_PASSWORD},
    )

    assert response.status_code == 400
    assert 'id="id_email-errors"' in response.content.decode()
    assert not User.objects.filter(username="marta").exists()


def test_a_role_is_still_never_taken_from_the_form(db):
    Client().post(
        "/register",
        {
            "username": "marta",
            "password": GOOD_PASSWORD,
            "role": Role.ADMIN,
            "email": "marta@example.com",
        },
    )

    assert User.objects.get(username="marta").role == Role.USER


# The Django admin -----------------------------------------------------------------


@pytest.fixture
def boss(make_user) -> User:
    return make_user("jefa", role=Role.ADMIN, is_staff=True, is_superuser=True)


def admin_change_form(client: Client, person: User) -> dict:
    """The admin's change form for ``person`` as it would be posted unchanged."""
    form = (
        client.get(f"/admin/accounts/user/{person.pk}/change/")
        .context["adminform"]
        .form
    )
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if value is None or value is False or name == "password":
            continue
        data[name] = (
            [v.pk for v in value] if name in ("groups", "user_permissions") else value
        )
    data["date_joined_0"], data["date_joined_1"] = person.date_joined.strftime(
        "%Y-%m-%d %H:%M:%S"
    ).split()
    return data


def test_the_admin_shows_the_email_fields_together(boss, user, client_for):
    page = client_for(boss).get(f"/admin/accounts/user/{user.pk}/change/")

    html = page.content.decode()
    assert page.status_code == 200
    assert "Email and notifications" in html
    for field in (
        "email",
        "email_verified",
        "email_bounced_at_0",
        "language",
        "notify_replies",
        "notify_new_conversations",
    ):
        assert f'name="{field}"' in html


def test_an_address_changed_in_the_admin_is_unverified_again(
    boss, make_user, client_for
):
    person = make_user("rita", email="rita@example.com", email_verified=True)
    client = client_for(boss)
    data = admin_change_form(client, person)
    data["email"] = "rita@new.example"

    response = client.post(f"/admin/accounts/user/{person.pk}/change/", data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    stored = reloaded(person)
    assert (stored.email, stored.email_verified) == ("rita@new.example", False)


def test_the_admin_may_vouch_for_an_address_in_the_same_change(
    boss, make_user, client_for
):
    person = make_user("rita")
    client = client_for(boss)
    data = admin_change_form(client, person)
    data.update(email="rita@example.com", email_verified="on", language="es")

    client.post(f"/admin/accounts/user/{person.pk}/change/", data)

    stored = reloaded(person)
    assert (stored.email, stored.email_verified, stored.language) == (
        "rita@example.com",
        True,
        "es",
    )
