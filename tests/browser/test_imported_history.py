"""After ``manage.py import_original`` (issue 16), in the page: a customer of
the original signs in with their old password and finds their history; an
admin of the original signs in with theirs and finds the conversations in
the inbox, each in the state the import gave it.

Screenshots: tests/browser/artifacts/imported-*.png, a desktop and a 360 px
phone, English and Spanish.
"""

import re
from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from tests.browser.chat_page import (
    WAIT_MS,
    conversation,
    conversation_order,
    expect_connected,
    expect_stored,
)
from tests.browser.conftest import DESKTOP, LiveServer
from tests.browser.test_screenshots import shoot
from tests.original.bcryptjs import bcryptjs_hashes
from tests.original.mariadb import MariaDB, running_mariadb
from tests.original.original_db import OLD_PASSWORDS, OriginalDatabase, Schema
from tests.original.shop import ANA_HISTORY, TEAM, fill_shop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 780}
SIZES = {"desktop": DESKTOP, "phone": PHONE}
LOCALES = {"en": "en-US", "es": "es-ES"}


@pytest.fixture(scope="module")
def mariadb(tmp_path_factory) -> Iterator[MariaDB]:
    with running_mariadb(tmp_path_factory.mktemp("mariadb-browser")) as server:
        yield server


@pytest.fixture
def server(django_db_setup, tmp_path_factory, static_root) -> Iterator[LiveServer]:
    """A daphne of this test's own: the browser tests' settings, but the
    production password hashers (tests/original/browser_settings.py)."""
    server = LiveServer(tmp_path_factory.mktemp("daphne-imported"), static_root)
    server.env["DJANGO_SETTINGS_MODULE"] = "tests.original.browser_settings"
    server.start()
    yield server
    server.stop()


@pytest.fixture
def imported(mariadb) -> str:
    """The original's shop imported here, the team named; the report."""
    hashes = bcryptjs_hashes(list(OLD_PASSWORDS.values()))
    original = OriginalDatabase(mariadb, hashes)
    original.create(Schema())
    try:
        fill_shop(original)
    finally:
        original.close()
    report = StringIO()
    call_command(
        "import_original",
        "--database",
        original.url,
        *TEAM,
        "--no-progress",
        stdout=report,
        stderr=StringIO(),
    )
    return report.getvalue()


def sign_in_with_old_password(page: Page, username: str) -> None:
    """The sign-in form, in whatever language the page is in."""
    page.goto("/login?next=/support")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(OLD_PASSWORDS[username])
    page.locator("form[action='/login'] button[type=submit]").click()
    page.wait_for_url("**/support", timeout=WAIT_MS)
    expect_connected(page)


def shown_texts(page: Page) -> list[str]:
    return page.locator("#messages li[data-id] .msg__text").all_inner_texts()


def test_imported_people_sign_in_with_old_passwords_and_find_their_history(
    imported, server, open_context
):
    assert "Accounts: 7 created" in imported, imported
    ana_texts = [row[3] for row in ANA_HISTORY]

    for size, viewport in SIZES.items():
        for language, locale in LOCALES.items():
            name = f"{size}-{language}"

            # The customer: her own history, the team's replies named.
            page = open_context(
                server=server, viewport=viewport, locale=locale
            ).new_page()
            sign_in_with_old_password(page, "ana")
            expect(page.locator("html")).to_have_attribute("lang", language)
            for text in ana_texts:
                expect_stored(page, text)
            assert shown_texts(page) == ana_texts, name
            reply = expect_stored(page, ANA_HISTORY[1][3])
            expect(reply.locator(".msg__author")).to_have_text("Sofía Martín")
            expect(reply).to_have_class(re.compile(r"\bmsg--team\b"))
            mine = expect_stored(page, ANA_HISTORY[0][3])
            expect(mine).to_have_class(re.compile(r"\bmsg--mine\b"))
            # Sent in March 2024: the date, with its year, not "today".
            expect(mine.locator("time")).to_contain_text("2024")
            assert mine.locator("time").get_attribute("datetime") == (
                "2024-03-01T09:00:00.000Z"
            )
            shoot(page, f"imported-customer-{name}")

            # The team: every conversation in "All", none unread.
            team = open_context(
                server=server, viewport=viewport, locale=locale
            ).new_page()
            sign_in_with_old_password(team, "soporte")
            team.goto("/support?view=all")
            expect_connected(team)
            expect(team.locator("#conversations button.conv")).to_have_count(3)
            assert conversation_order(team) == ["marta", "luis", "ana"], name
            expect(team.locator("#conversations .badge")).to_have_count(0)
            expect(conversation(team, "luis").locator(".tag--resolved")).to_be_visible()
            expect(conversation(team, "ana").locator(".conv__owner")).to_contain_text(
                "Sofía Martín"
            )
            expect(conversation(team, "ana").locator(".conv__waiting")).to_be_visible()
            expect(
                conversation(team, "marta").locator(".conv__owner--none")
            ).to_be_visible()
            shoot(team, f"imported-inbox-{name}")

            conversation(team, "ana").click()
            for text in ana_texts:
                expect_stored(team, text)
            assert shown_texts(team) == ana_texts, name
            expect(
                expect_stored(team, ANA_HISTORY[0][3]).locator(".msg__author")
            ).to_have_text("Ana García")
            shoot(team, f"imported-thread-{name}")
