"""Issue 13 fixes on the chat page and the sign-in pages, seen in a browser."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.chat_page import expect_connected, sign_in_with_form

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_signing_out_from_the_chat_lands_on_the_plain_login_page(
    make_user, open_context
):
    make_user("ana", name="Ana García")
    page = open_context().new_page()
    for _ in range(3):
        sign_in_with_form(page, "ana")
        expect_connected(page)
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(re.compile(r"/login(\?|$)"))
        # Any redirect the socket's close might start has had time to land.
        page.wait_for_timeout(500)
        assert "reason=" not in page.url, page.url
        expect(page.locator(".notice")).to_have_count(0)
