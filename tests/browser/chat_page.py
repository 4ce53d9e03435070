"""What the browser tests do on the chat page, every wait bounded."""

from playwright.sync_api import BrowserContext, Locator, Page, expect

from tests.conftest import PASSWORD

WAIT_MS = 10_000
# Long enough for reconnection back-off while a server restarts.
RECONNECT_WAIT_MS = 30_000


def sign_in_with_form(page: Page, username: str, password: str = PASSWORD) -> None:
    """Sign in through /login, which sends the person on to /support."""
    page.goto("/login?next=/support")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.locator("form[action='/login']").get_by_role("button").click()
    page.wait_for_url("**/support", timeout=WAIT_MS)


def connection(page: Page) -> Locator:
    """The connection state the person can see right now."""
    return page.locator(".connection:visible")


def expect_connected(page: Page, timeout: int = WAIT_MS) -> None:
    expect(connection(page)).to_have_attribute(
        "data-state", "connected", timeout=timeout
    )


def open_support(context: BrowserContext, query: str = "") -> Page:
    page = context.new_page()
    page.goto("/support" + query)
    expect_connected(page)
    return page


def write(page: Page, text: str) -> None:
    """Type into the composer and press Enter, as a person sends."""
    page.locator("#composer-text").fill(text)
    page.locator("#composer-text").press("Enter")


def stored_messages(page: Page, text: str) -> Locator:
    """Messages in the open thread whose text is exactly ``text``, once stored."""
    return page.locator("#messages li[data-id]").filter(
        has=page.locator(".msg__text").get_by_text(text, exact=True)
    )


def expect_stored(page: Page, text: str, timeout: int = WAIT_MS) -> Locator:
    """``text`` is shown exactly once, as a sent (stored) message."""
    found = stored_messages(page, text)
    expect(found).to_have_count(1, timeout=timeout)
    return found


def conversation(page: Page, username: str) -> Locator:
    return page.locator(f"#conversations button.conv[data-user='{username}']")


def conversation_order(page: Page) -> list[str]:
    return page.locator("#conversations button.conv").evaluate_all(
        "buttons => buttons.map(b => b.dataset.user)"
    )


def shown_ids(page: Page) -> list[int]:
    return page.locator("#messages li[data-id]").evaluate_all(
        "items => items.map(i => Number(i.dataset.id))"
    )


# The support desk (the team's page) ------------------------------------------


def tab(page: Page, name: str) -> Locator:
    """One of the inbox's views, by its label."""
    return page.locator("#inbox-tabs").get_by_role("tab", name=name, exact=True)


def desk_banner(page: Page) -> Locator:
    """'X is handling this conversation.' over the open thread."""
    return page.locator("#desk-banner")


def search_results(page: Page) -> Locator:
    return page.locator("#search-results button.conv")


def notes(page: Page) -> Locator:
    """Internal notes shown in the open thread."""
    return page.locator("#messages li.msg--note")
