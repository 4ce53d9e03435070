"""The account page in Chromium against a real daphne that sends its email to a
real SMTP server (tests/mailbox.py): add an address, follow the link from the
email that arrived, opt in and out; the password change that keeps this
browser signed in. Screenshots: tests/browser/artifacts/account-*.png."""

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from accounts.models import Role, User
from tests.browser.conftest import ARTIFACTS, DESKTOP, PHONE, LiveServer
from tests.browser.test_screenshots import shoot
from tests.conftest import PASSWORD
from tests.mailbox import Mailbox, html_of, running_mailbox, text_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LINK = re.compile(r"http://\S+/account/verify/\S+")
REPLIES = "Email me the team's replies I haven't seen"


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with running_mailbox() as box:
        yield box


@pytest.fixture
def site(
    mailbox, django_db_setup, tmp_path_factory, static_root
) -> Iterator[LiveServer]:
    """A daphne of this test's own whose emails go to ``mailbox``, its links
    (SITE_URL) pointing back at it."""
    server = LiveServer(
        tmp_path_factory.mktemp("daphne-account"),
        static_root,
        EMAIL_URL=f"smtp://127.0.0.1:{mailbox.port}",
    )
    server.env["SITE_URL"] = server.http_url
    server.start()
    yield server
    server.stop()


def address_state(page: Page):
    return page.locator(".address__state")


def test_an_address_is_added_verified_through_the_emailed_link_and_emails_toggled(
    user, site, mailbox, open_context
):
    page = open_context(server=site, user=user).new_page()
    page.goto("/support")
    page.get_by_role("link", name="Account").click()
    expect(page.locator("h1")).to_have_text("Your account")

    page.get_by_label("Email address").fill("ana@example.com")
    page.get_by_role("button", name="Add the address").click()

    expect(page.get_by_role("status")).to_have_text(
        "We sent a link to ana@example.com: open it to confirm the address."
    )
    expect(address_state(page)).to_have_text("not verified yet")
    shoot(page, "account-link-sent-desktop-en")
    [email] = mailbox.wait_for(1, "ana@example.com")
    assert email["Subject"] == "Confirm your email address"
    link = LINK.search(text_of(email)).group(0)
    assert link.startswith(site.http_url + "/account/verify/")
    # What a mail client shows of the HTML part, for a person to look at.
    shown = open_context(server=site).new_page()
    shown.set_content(html_of(email))
    shoot(shown, "account-email-desktop-en")

    page.goto(link)
    expect(page.locator("h1")).to_have_text("Address verified")
    shoot(page, "account-link-followed-desktop-en")
    page.get_by_role("link", name="Go to your account").click()
    expect(address_state(page)).to_have_text("verified")
    shoot(page, "account-verified-desktop-en")
    assert User.objects.get(pk=user.pk).email_verified

    replies = page.get_by_label(REPLIES)
    expect(replies).to_be_checked()
    replies.uncheck()
    page.locator("#notifications").get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Your email settings are saved.")
    page.reload()
    expect(page.get_by_label(REPLIES)).not_to_be_checked()
    assert not User.objects.get(pk=user.pk).notify_replies

    page.get_by_label(REPLIES).check()
    page.locator("#notifications").get_by_role("button", name="Save").click()
    # The form's own navigation ends first: a reload during it finds no page.
    expect(page.get_by_role("status")).to_have_text("Your email settings are saved.")
    page.reload()
    expect(page.get_by_label(REPLIES)).to_be_checked()
    assert User.objects.get(pk=user.pk).notify_replies


def test_the_link_opened_in_another_browser_verifies_too(
    user, site, mailbox, open_context
):
    page = open_context(server=site, user=user).new_page()
    page.goto("/account")
    page.get_by_label("Email address").fill("ana@example.com")
    page.get_by_role("button", name="Add the address").click()
    [email] = mailbox.wait_for(1, "ana@example.com")

    phone = open_context(server=site, viewport=PHONE).new_page()
    phone.goto(LINK.search(text_of(email)).group(0))

    expect(phone.locator("h1")).to_have_text("Address verified")
    expect(phone.get_by_role("link", name="Sign in to your account")).to_be_visible()
    page.reload()
    expect(address_state(page)).to_have_text("verified")


def test_an_admin_opts_in_to_emails_when_the_team_is_offline(
    make_user, site, open_context
):
    admin = make_user("sofia", role=Role.ADMIN, name="Sofía", email="s@example.com")
    page = open_context(server=site, user=admin).new_page()
    page.goto("/account")
    box = page.get_by_label(
        "Email me when a customer writes while nobody of the team is online"
    )
    expect(box).not_to_be_checked()

    box.check()
    page.locator("#notifications").get_by_role("button", name="Save").click()
    # The form's own navigation ends first: a reload during it finds no page.
    # (Not verified yet: the notice says emails start once it is.)
    expect(page.get_by_role("status")).to_contain_text("Saved.")
    page.reload()

    expect(box).to_be_checked()
    assert User.objects.get(pk=admin.pk).notify_new_conversations


def test_the_language_chosen_applies_to_the_page_at_once(user, site, open_context):
    page = open_context(server=site, user=user).new_page()
    page.goto("/account")

    page.get_by_label("Language of the pages and of the emails").select_option("es")
    page.get_by_role("button", name="Save the language").click()

    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.locator("h1")).to_have_text("Tu cuenta")
    expect(page.get_by_role("status")).to_have_text("Tu idioma está guardado.")
    assert User.objects.get(pk=user.pk).language == "es"


def test_changing_the_password_keeps_this_browser_signed_in(user, site, open_context):
    here = open_context(server=site, user=user).new_page()
    elsewhere = open_context(server=site, user=user).new_page()
    here.goto("/account")

    here.get_by_label("Current password").fill(PASSWORD)
    here.get_by_label("New password", exact=True).fill("a brand new passphrase 77")
    here.get_by_label("New password again").fill("a brand new passphrase 77")
    here.get_by_role("button", name="Change the password").click()

    expect(here.get_by_role("status")).to_have_text(
        "Your password is changed. Your other sessions are signed out."
    )
    here.goto("/account")
    expect(here.locator("h1")).to_have_text("Your account")
    elsewhere.goto("/account")
    expect(elsewhere.locator("h1")).to_have_text("Sign in")


@pytest.mark.parametrize("size", ["desktop", "phone"])
@pytest.mark.parametrize("language", ["en", "es"])
def test_screenshots_of_the_account_page(make_user, site, open_context, size, language):
    person = make_user("ana", name="Ana García", email="ana.garcia@example.com")
    context = open_context(
        server=site,
        user=person,
        viewport=DESKTOP if size == "desktop" else PHONE,
        locale="es-ES" if language == "es" else "en-US",
    )
    page = context.new_page()
    page.goto("/account")
    expect(page.locator("html")).to_have_attribute("lang", language)

    shoot(page, f"account-{size}-{language}")
    # The whole page too: the screen shows its first sections only.
    page.screenshot(
        path=ARTIFACTS / f"account-{size}-{language}-full.png", full_page=True
    )
