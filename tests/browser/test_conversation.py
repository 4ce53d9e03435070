"""A user and the support team talk through the page, in two browsers."""

import re
import time

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from chat.models import ReadState
from chat.services import message_store
from tests.browser.chat_page import (
    WAIT_MS,
    conversation,
    conversation_order,
    expect_connected,
    expect_stored,
    open_support,
    sign_in_with_form,
    write,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

XSS = '<img src=x onerror="window.__pwned=1">'


@pytest.fixture
def people(make_user):
    luis = make_user("luis", name="Luis Pérez")
    # An older conversation, so the new one has something to rise above.
    message_store(sender=luis, text="¿Enviáis a Canarias?")
    return {
        "ana": make_user("ana", name="Ana García"),
        "luis": luis,
        "soporte": make_user("soporte", role=Role.ADMIN, name="Soporte"),
    }


def classes(*names: str) -> re.Pattern:
    """A class attribute holding every one of ``names``."""
    return re.compile("".join(rf"(?=.*\b{re.escape(n)}\b)" for n in names))


def wait_for_read_mark(admin, thread, up_to: int) -> None:
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        mark = ReadState.objects.filter(reader=admin, thread=thread).first()
        if mark and mark.last_read_id >= up_to:
            return
        time.sleep(0.1)
    raise AssertionError(f"no read mark up to {up_to} for {thread.username}")


def test_a_user_and_an_admin_talk_live_and_both_keep_the_history(people, open_context):
    user_page = open_context().new_page()
    sign_in_with_form(user_page, "ana")
    expect_connected(user_page)
    # "All": every conversation, newest first (the default is "Needs reply").
    admin_page = open_support(open_context(user=people["soporte"]), "?view=all")
    expect(conversation(admin_page, "luis")).to_be_visible()

    write(user_page, "Hola, mi pedido no ha llegado.\nEs el 1234.")
    asked = expect_stored(user_page, "Hola, mi pedido no ha llegado.\nEs el 1234.")
    expect(asked).to_have_class(classes("msg--ours", "msg--mine"))
    expect(asked.locator(".msg__author")).to_have_text("You")
    expect(asked.locator("time")).to_have_text(re.compile(r"^\d{1,2}:\d{2}"))

    ana = conversation(admin_page, "ana")
    expect(ana.locator(".badge")).to_contain_text("1")
    expect(ana.locator(".conv__name")).to_have_text("Ana García")
    expect(ana.locator(".conv__preview")).to_have_text(
        "Hola, mi pedido no ha llegado. Es el 1234."
    )
    assert conversation_order(admin_page) == ["ana", "luis"]

    ana.click()
    expect(admin_page.locator("#composer-text")).to_be_focused()
    expect(ana.locator(".badge")).to_have_count(0)
    question = expect_stored(admin_page, "Hola, mi pedido no ha llegado.\nEs el 1234.")
    expect(question).to_have_class(classes("msg--theirs"))
    expect(question.locator(".msg__author")).to_have_text("Ana García")
    wait_for_read_mark(
        people["soporte"], people["ana"], int(question.get_attribute("data-id"))
    )

    write(admin_page, "Lo miro ahora mismo.")
    expect_stored(admin_page, "Lo miro ahora mismo.")
    answer = expect_stored(user_page, "Lo miro ahora mismo.")
    expect(answer).to_have_class(classes("msg--theirs", "msg--team"))
    expect(answer.locator(".msg__author")).to_have_text("Soporte")
    expect(answer.locator(".msg__role")).to_have_text("Support team")

    for page in (user_page, admin_page):
        page.reload()
        expect_connected(page)
        expect_stored(page, "Hola, mi pedido no ha llegado.\nEs el 1234.")
        expect_stored(page, "Lo miro ahora mismo.")
    # The admin's page reopens the conversation it showed.
    expect(conversation(admin_page, "ana")).to_have_attribute("aria-current", "true")


def test_markup_in_a_message_is_shown_as_text_and_never_runs(people, open_context):
    user_page = open_support(open_context(user=people["ana"]))
    admin_page = open_support(open_context(user=people["soporte"]))

    write(user_page, XSS)
    expect_stored(user_page, XSS)
    conversation(admin_page, "ana").click()
    expect_stored(admin_page, XSS)
    expect(conversation(admin_page, "ana").locator(".conv__preview")).to_have_text(XSS)
    write(
        admin_page, "javascript:alert(1) is not a link, https://example.com/a?b=1 is."
    )
    expect_stored(
        user_page, "javascript:alert(1) is not a link, https://example.com/a?b=1 is."
    )

    for page in (user_page, admin_page):
        for visit in ("live", "history"):
            assert page.locator("#chat img").count() == 0, visit
            assert page.evaluate("window.__pwned") is None, visit
            links = page.locator("#messages a")
            expect(links).to_have_count(1)
            expect(links).to_have_attribute("href", "https://example.com/a?b=1")
            expect(links).to_have_attribute("rel", "noopener noreferrer nofollow")
            expect(links).to_have_attribute("target", "_blank")
            page.reload()
            expect_connected(page)
            expect_stored(page, XSS)


def test_a_refused_message_says_why_and_keeps_its_text_for_another_try(
    people, open_context
):
    # The composer stops what it can check itself (a text over 4,000
    # characters never leaves the page); a refusal only the server can make:
    # the customer's account was renamed while the agent had the thread open.
    page = open_support(open_context(user=people["soporte"]))
    conversation(page, "luis").click()
    expect(page.locator("#messages li[data-id]")).to_have_count(1)
    luis = people["luis"]
    luis.username = "luis-renamed"
    luis.save()
    refused = "Le respondo enseguida"

    write(page, refused)

    failed = page.locator("#messages li.msg--failed")
    expect(failed).to_have_count(1)
    expect(failed.locator(".msg__error")).to_have_text(
        "This person's account no longer exists."
    )
    expect(page.locator("#messages li[data-id]")).to_have_count(1)
    failed.get_by_role("button", name="Edit").click()
    expect(page.locator("#composer-text")).to_have_value(refused)
    expect(page.locator("#composer-text")).to_be_focused()
    expect(failed).to_have_count(0)

    luis.username = "luis"  # back, so the next try can work
    luis.save()
    page.locator("#composer-text").fill("Ahora sí")
    page.locator("#composer-text").press("Shift+Enter")
    page.locator("#composer-text").press_sequentially("corto")
    page.locator("#composer-text").press("Enter")
    expect_stored(page, "Ahora sí\ncorto")
    expect(page.locator("#messages li.msg--pending")).to_have_count(0)


def test_older_messages_load_when_scrolling_up_without_repeats(people, open_context):
    ana = people["ana"]
    for number in range(1, 81):
        message_store(sender=ana, text=f"Mensaje {number}")
    page = open_support(open_context(user=ana))
    items = page.locator("#messages li[data-id]")
    expect(items).to_have_count(50)
    expect(items.last).to_contain_text("Mensaje 80")

    page.locator("#scroller").evaluate("scroller => { scroller.scrollTop = 0; }")

    expect(items).to_have_count(80)
    expect(page.locator("#older")).to_be_hidden()
    texts = items.locator(".msg__text").all_inner_texts()
    assert texts == [f"Mensaje {number}" for number in range(1, 81)]
    # The reader stays where they were: at "Mensaje 31", not at the top.
    in_view = page.locator("#messages li[data-id]", has_text="Mensaje 31")
    expect(in_view).to_be_in_viewport()


def test_the_inbox_works_from_the_keyboard_and_announces_new_messages(
    people, open_context
):
    message_store(sender=people["ana"], text="Primera pregunta")
    admin_page = open_support(open_context(user=people["soporte"]), "?view=all")
    user_page = open_support(open_context(user=people["ana"]))

    conversation(admin_page, "ana").focus()
    admin_page.keyboard.press("ArrowDown")
    expect(conversation(admin_page, "luis")).to_be_focused()
    admin_page.keyboard.press("Home")
    expect(conversation(admin_page, "ana")).to_be_focused()
    admin_page.keyboard.press("Enter")
    expect(admin_page.locator("#composer-text")).to_be_focused()
    expect(conversation(admin_page, "ana")).to_have_attribute("aria-current", "true")

    write(user_page, "¿Me oyes?")
    expect(admin_page.locator("#announcer")).to_have_text(
        "New message from Ana García: ¿Me oyes?"
    )
    write(admin_page, "Alto y claro")
    expect(user_page.locator("#announcer")).to_have_text(
        "New message from Soporte: Alto y claro"
    )
    expect(admin_page.locator("#announcer")).to_have_attribute("aria-live", "polite")
