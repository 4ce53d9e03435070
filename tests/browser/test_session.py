"""The page keeps a session alive past its first token, and stops when it ends."""

import time

import pytest
from playwright.sync_api import expect

from tests.browser.chat_page import (
    WAIT_MS,
    connection,
    expect_connected,
    expect_stored,
    sign_in_with_form,
    write,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The server warns 60 s before expiry: with 66 s, six seconds after sign-in.
LIFETIME_SECONDS = 66
WARNING_SECONDS = 60


def csrf_token(context) -> str:
    response = context.request.get("/api/auth/csrf")
    assert response.status == 204
    return next(c["value"] for c in context.cookies() if c["name"] == "csrftoken")


@pytest.mark.timeout(LIFETIME_SECONDS + 90)
def test_the_page_refreshes_before_expiry_and_stops_at_a_sign_out_everywhere(
    user, open_context, start_server
):
    server = start_server(JWT_LIFETIME_SECONDS=str(LIFETIME_SECONDS))
    context = open_context(server=server)
    page = context.new_page()
    sockets = []
    page.on("websocket", lambda ws: sockets.append(ws))
    sign_in_with_form(page, "ana")
    signed_in_at = time.monotonic()
    first_token = next(c["value"] for c in context.cookies() if c["name"] == "token")
    expect_connected(page)

    refreshed = page.wait_for_event(
        "response",
        lambda response: response.url.endswith("/api/auth/refresh"),
        timeout=(LIFETIME_SECONDS - WARNING_SECONDS + 10) * 1000,
    )
    assert refreshed.status == 200
    # Past the first token's expiry, and the server's 2 s to act on it.
    page.wait_for_timeout(
        max(0, signed_in_at + LIFETIME_SECONDS + 3 - time.monotonic()) * 1000
    )

    assert page.url.endswith("/support")
    expect_connected(page)
    write(page, "Sigo aquí después de la caducidad")
    expect_stored(page, "Sigo aquí después de la caducidad")
    tokens_now = [c["value"] for c in context.cookies() if c["name"] == "token"]
    assert tokens_now and tokens_now != [first_token]
    assert len(sockets) >= 2, "the page never moved to a refreshed socket"

    elsewhere = open_context(server=server, user=user)
    answer = elsewhere.request.post(
        "/api/auth/logout-all", headers={"X-CSRFToken": csrf_token(elsewhere)}
    )
    assert answer.status == 204

    page.wait_for_url("**/login?next=/support&reason=4005", timeout=WAIT_MS)
    expect(page.locator(".notice")).to_have_text(
        "You were signed out, perhaps from another device or by the support team. "
        "Please sign in again."
    )
    opened = len(sockets)
    page.wait_for_timeout(3000)
    assert "/login?next=/support&reason=4005" in page.url
    assert len(sockets) == opened, "the page kept reconnecting after the sign-out"
    expect(connection(page)).to_have_count(0)
