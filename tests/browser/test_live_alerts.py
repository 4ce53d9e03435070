"""Live signals in the browser (issue 14), continued: the tab's title, sound and
desktop notifications, and a connection that knows when it is dead."""

import os
import signal

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from chat.models import Message, ReadState
from chat.services import message_store
from tests.browser.chat_page import (
    RECONNECT_WAIT_MS,
    WAIT_MS,
    connection,
    conversation,
    expect_connected,
    expect_stored,
    open_support,
    stored_messages,
    write,
)
from tests.browser.live_page import HIDDEN_TAB, RECORD_ALERTS, RECORD_FRAMES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

QUESTION = "Hola, mi pedido 1234 no ha llegado."
REPLY = "¡Hola Ana! Lo miro ahora mismo."
# A ping every 20 s, an answer expected within 5 s (static/js/liveness.js).
DEAD_SOCKET_NOTICED_MS = 20_000 + 5_000 + WAIT_MS


@pytest.fixture
def people(make_user) -> dict:
    return {
        "ana": make_user("ana", name="Ana García"),
        "sofia": make_user("sofia", role=Role.ADMIN, name="Sofía Martín"),
    }


def hide(page, hidden: bool = True) -> None:
    page.evaluate("(hidden) => window.__setHidden(hidden)", hidden)


def alert_options(page):
    """Open the team strip's Alerts menu."""
    page.locator("#alerts summary").click()
    expect(page.locator("#alerts")).to_have_attribute("open", "")


# The title, sound and notifications ------------------------------------------


def test_a_hidden_inbox_counts_in_its_title_and_notifies_when_asked_to(
    people, open_context
):
    context = open_context(user=people["sofia"])
    context.grant_permissions(["notifications"])
    context.add_init_script(HIDDEN_TAB + RECORD_ALERTS)
    admin = open_support(context)
    expect(admin).to_have_title("Inbox")
    alert_options(admin)
    admin.get_by_label("Show desktop notifications").check()
    admin.get_by_label("Play a sound for new messages").check()
    # The tick itself plays the sound once, so that one knows what to expect.
    admin.wait_for_function("() => window.__tones === 2")
    assert admin.evaluate("window.__permissionRequests") == 0  # granted already
    hide(admin)

    customer = open_support(open_context(user=people["ana"]))
    write(customer, QUESTION)

    expect(admin).to_have_title("(1) Inbox")
    admin.wait_for_function("() => window.__notifications.length === 1")
    assert admin.evaluate("window.__notifications") == [
        {"title": "New message from Ana García", "body": QUESTION, "tag": "support-ana"}
    ]
    admin.wait_for_function("() => window.__tones === 4")

    # In sight again: the count stays (still unanswered), nothing else rings.
    hide(admin, False)
    write(customer, "¿Alguien?")
    expect(conversation(admin, "ana").locator(".conv__preview")).to_have_text(
        "¿Alguien?"
    )
    expect(admin).to_have_title("(1) Inbox")
    assert admin.evaluate("[window.__notifications.length, window.__tones]") == [1, 4]

    # The choices are remembered by this browser.
    admin.reload()
    expect_connected(admin)
    alert_options(admin)
    expect(admin.get_by_label("Show desktop notifications")).to_be_checked()
    expect(admin.get_by_label("Play a sound for new messages")).to_be_checked()

    # Answered: nothing waits any more. One's own message rings nothing either.
    hide(admin)
    conversation(admin, "ana").click()
    write(admin, REPLY)
    expect_stored(admin, REPLY)
    expect(admin).to_have_title("Inbox")
    assert admin.evaluate("[window.__notifications.length, window.__tones]") == [0, 0]


def test_notifications_ask_for_the_browser_permission_only_when_ticked(
    people, open_context
):
    context = open_context(user=people["sofia"])
    context.add_init_script(RECORD_ALERTS)
    admin = open_support(context)
    alert_options(admin)
    box = admin.get_by_label("Show desktop notifications")
    expect(box).not_to_be_checked()
    assert admin.evaluate("window.__permissionRequests") == 0

    box.check(no_wait_after=True)

    admin.wait_for_function("() => window.__permissionRequests === 1")
    # Not granted (headless chromium answers for the person): the box stays
    # unticked and says why.
    expect(box).not_to_be_checked()
    expect(admin.locator(".alerts__notice")).to_have_text(
        "Notifications stay off until this browser allows them for this site."
    )


def test_a_reply_to_a_hidden_customer_tab_shows_in_its_title_until_seen(
    people, open_context
):
    message_store(sender=people["ana"], text=QUESTION)
    context = open_context(user=people["ana"])
    context.add_init_script(HIDDEN_TAB)
    customer = open_support(context)
    expect(customer).to_have_title("Chat with support")
    hide(customer)
    admin = open_support(open_context(user=people["sofia"]), "?with=ana")

    write(admin, REPLY)

    expect(customer).to_have_title("(1) Chat with support")
    write(admin, "¿Me confirmas el código postal?")
    expect(customer).to_have_title("(2) Chat with support")
    expect_stored(customer, "¿Me confirmas el código postal?")
    # Not read while hidden: the agent does not see "Seen" yet.
    reply = stored_messages(admin, "¿Me confirmas el código postal?")
    expect(reply.locator(".msg__seen")).to_have_count(0)
    assert not ReadState.objects.filter(reader__username="ana").exists()

    hide(customer, False)

    expect(customer).to_have_title("Chat with support")
    expect(reply.locator(".msg__seen")).to_have_text("Seen")


# A connection that knows when it is dead -------------------------------------


def test_offline_shows_at_once_and_a_message_written_meanwhile_goes_once(
    people, open_context
):
    admin = open_support(open_context(user=people["sofia"]), "?with=ana")
    context = open_context(user=people["ana"])
    customer = open_support(context)
    text = "Escrito sin red"

    context.set_offline(True)

    expect(connection(customer)).to_have_attribute("data-state", "offline")
    expect(connection(customer)).to_have_text("Offline")
    write(customer, text)
    expect(customer.locator("#messages li.msg--pending")).to_have_count(1)
    # Reconnection keeps trying meanwhile; nothing may go out twice for it.
    customer.wait_for_timeout(1500)
    assert not Message.objects.filter(text=text).exists()

    context.set_offline(False)

    expect_connected(customer)
    expect_stored(customer, text)
    expect_stored(admin, text)
    expect(customer.locator("#messages li.msg--pending")).to_have_count(0)
    assert Message.objects.filter(text=text).count() == 1


def test_a_socket_that_stops_answering_is_given_up_and_replaced(
    people, open_context, start_server
):
    server = start_server()
    context = open_context(server=server, user=people["ana"])
    context.add_init_script(RECORD_FRAMES)
    customer = open_support(context)

    # A server that no longer answers, over a connection that stays open.
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        expect(connection(customer)).to_have_attribute(
            "data-state", "reconnecting", timeout=DEAD_SOCKET_NOTICED_MS
        )
        expect(connection(customer)).to_have_text("Reconnecting…")
        write(customer, "Escrito con el servidor parado")
    finally:
        os.kill(server.process.pid, signal.SIGCONT)

    expect_connected(customer, timeout=RECONNECT_WAIT_MS)
    expect_stored(customer, "Escrito con el servidor parado")
    assert Message.objects.filter(text="Escrito con el servidor parado").count() == 1
    pings = customer.evaluate("window.__sent.filter((f) => f.type === 'ping').length")
    assert pings >= 1
