"""The Django admin works under the site's Content-Security-Policy."""

import pytest
from playwright.sync_api import expect

from accounts.models import Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def staff(make_user):
    return make_user(
        "jefa", role=Role.ADMIN, name="Jefa", is_staff=True, is_superuser=True
    )


def test_the_admin_pages_load_their_styles_and_scripts_under_the_policy(
    staff, user, open_context
):
    page = open_context(user=staff).new_page()

    response = page.goto("/admin/accounts/user/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator("#result_list")).to_contain_text("ana")
    # Styled: the admin's stylesheet lays the header out as a flex row.
    expect(page.locator("#header")).to_have_css("display", "flex")
    # Scripted: selecting every row through the admin's own JavaScript.
    page.locator("#action-toggle").check()
    expect(page.locator("#changelist-form .action-counter")).to_contain_text("2 of 2")

    page.goto(f"/admin/accounts/user/{staff.pk}/change/")
    expect(page.locator("#id_username")).to_have_value("jefa")
    # open_context fails the test on any CSP violation or script error.
