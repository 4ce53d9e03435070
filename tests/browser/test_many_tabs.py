"""Limits per person, as a person with many tabs meets them (PROTOCOL.md 3.1-3.2).

Every tab resumes when it connects, and resumes are limited per person
(bursts of 5): tabs told to wait ask again, and every one of them comes live.
"""

import pytest

from tests.browser.chat_page import (
    expect_connected,
    expect_stored,
    write,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TABS = 8  # over the resume burst, under the ten sockets a person may have


def test_more_tabs_than_the_resume_burst_all_come_live(user, open_context):
    context = open_context(user=user)
    pages = []
    for _ in range(TABS):
        page = context.new_page()
        # Opened together, so that their resumes arrive together.
        page.goto("/support", wait_until="commit")
        pages.append(page)
    for page in pages:
        expect_connected(page)
    write(pages[-1], "Desde la última pestaña")
    for page in pages:
        expect_stored(page, "Desde la última pestaña")
