"""Issue 13 fixes on the chat page and the sign-in pages, seen in a browser."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from chat.models import Message
from chat.services import message_store
from tests.browser.chat_page import (
    conversation,
    expect_connected,
    open_support,
    sign_in_with_form,
    write,
)

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


def test_the_empty_inbox_note_goes_when_a_conversation_arrives_live(
    make_user, open_context
):
    ana = make_user("ana", name="Ana García")
    soporte = make_user("soporte", role=Role.ADMIN, name="Soporte")
    admin_page = open_support(open_context(user=soporte))
    expect(admin_page.locator("#inbox-empty")).to_be_visible()

    write(open_support(open_context(user=ana)), "¿Hay alguien?")

    expect(conversation(admin_page, "ana")).to_be_visible()
    expect(admin_page.locator("#inbox-empty")).to_be_hidden()


def test_the_composer_stops_at_4000_characters_and_counts_near_the_limit(
    make_user, open_context
):
    page = open_support(open_context(user=make_user("ana", name="Ana García")))
    text = page.locator("#composer-text")
    count = page.locator("#composer-count")

    text.fill("a" * 3000)
    expect(count).to_be_hidden()
    text.fill("a" * 3900)
    expect(count).to_have_text("3,900 of 4,000 characters")
    text.fill("a" * 4100)
    expect(text).to_have_value("a" * 4000)
    expect(count).to_have_text("4,000 characters: the most a message can have.")


def test_an_over_long_text_is_not_sent_and_never_offers_a_retry(
    make_user, open_context
):
    page = open_support(open_context(user=make_user("ana", name="Ana García")))
    # A script (or an extension) can put in more than maxlength allows.
    page.locator("#composer-text").evaluate("t => { t.value = 'a'.repeat(4100); }")
    page.locator("#composer-text").press("Enter")

    expect(page.locator("#composer-count")).to_have_text(
        "The message is too long: at most 4,000 characters."
    )
    expect(page.locator("#composer-text")).to_have_value("a" * 4100)
    expect(page.get_by_role("button", name="Retry")).to_have_count(0)
    expect(page.locator("#messages li.msg--pending")).to_have_count(0)


def test_after_a_wrong_password_the_focus_is_on_password_with_the_name_kept(
    make_user, open_context
):
    make_user("ana", name="Ana García")
    page = open_context().new_page()
    page.goto("/login")
    expect(page.get_by_label("Username")).to_be_focused()
    page.get_by_label("Username").fill("ana")
    page.get_by_label("Password").fill("not the password")
    page.locator("form[action='/login']").get_by_role("button").click()

    expect(page.get_by_role("alert")).to_contain_text("Wrong username or password.")
    expect(page.get_by_label("Password")).to_be_focused()
    expect(page.get_by_label("Username")).to_have_value("ana")


# The colours a reader sees: each element's colour laid over what is behind it,
# the bubble's own opacity included.
EFFECTIVE_COLOURS = """status => {
  const rgba = (css) => {
    const [r, g, b, a = 1] = css.match(/[\\d.]+/g).map(Number);
    return [r, g, b, a];
  };
  const over = (top, bottom, alpha) =>
    top.map((c, i) => c * alpha + bottom[i] * (1 - alpha));
  const bubble = status.closest("li");
  let backdrop = [255, 255, 255];
  for (let node = bubble.parentElement; node; node = node.parentElement) {
    const bg = rgba(getComputedStyle(node).backgroundColor);
    if (bg[3] > 0) { backdrop = bg.slice(0, 3); break; }
  }
  const opacity = Number(getComputedStyle(bubble).opacity);
  const fill = rgba(getComputedStyle(bubble).backgroundColor);
  const bubbleSeen = over(fill.slice(0, 3), backdrop, fill[3]);
  const ink = rgba(getComputedStyle(status).color);
  const inkOnBubble = over(ink.slice(0, 3), bubbleSeen, ink[3]);
  return [over(inkOnBubble, backdrop, opacity), over(bubbleSeen, backdrop, opacity)];
}"""


def contrast(one: list[float], other: list[float]) -> float:
    def luminance(rgb):
        linear = [
            c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
            for c in (v / 255 for v in rgb)
        ]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_sending_text_has_a_contrast_of_at_least_4_5_to_1(make_user, open_context):
    page = open_support(open_context(user=make_user("ana", name="Ana García")))
    # A message stays "Sending…" only while its echo is on the way: too short
    # to catch, so the list's own markup for it is built here.
    page.locator("#messages").evaluate(
        """list => {
          const li = document.createElement("li");
          li.className = "msg msg--ours msg--mine msg--pending";
          li.innerHTML = '<p class="msg__meta"><span class="msg__author">You</span></p>'
            + '<p class="msg__text">Hola</p><p class="msg__status">Sending…</p>';
          list.append(li);
        }"""
    )
    text, bubble = page.locator(".msg--pending .msg__status").evaluate(
        EFFECTIVE_COLOURS
    )

    assert contrast(text, bubble) >= 4.5, (text, bubble)


def shown_meta(page) -> list[bool]:
    """For each stored message in view, whether its name and time are shown."""
    return page.locator("#messages li[data-id] .msg__meta").evaluate_all(
        "metas => metas.map(m => m.getBoundingClientRect().height > 1)"
    )


def test_a_run_of_messages_from_one_sender_shows_the_name_and_time_once(
    make_user, open_context
):
    ana = make_user("ana", name="Ana García")
    soporte = make_user("soporte", role=Role.ADMIN, name="Soporte")
    early = timezone.now() - timedelta(minutes=30)
    first = message_store(sender=ana, text="Hola")
    Message.objects.filter(id=first["id"]).update(created_at=early)
    for text in ("Una pregunta", "sobre mi pedido"):
        message_store(sender=ana, text=text)
    message_store(sender=soporte, to="ana", text="Dime")
    message_store(sender=ana, text="Es el 1234")
    page = open_support(open_context(user=ana))
    expect(page.locator("#messages li[data-id]")).to_have_count(5)

    # "Hola" is half an hour older than the next one: a run of its own.
    assert shown_meta(page) == [True, True, False, True, True]
    write(page, "y otra cosa")
    expect(page.locator("#messages li[data-id]")).to_have_count(6)
    assert shown_meta(page)[-1] is False
    # Hidden from sight only: a screen reader still hears who wrote each one.
    expect(page.locator("#messages li[data-id] .msg__author").nth(2)).to_have_text(
        "You"
    )


def test_days_are_separated_and_dates_of_other_years_show_the_year(
    make_user, open_context
):
    ana = make_user("ana", name="Ana García")
    now = timezone.now()
    last_year = now.replace(year=now.year - 1, month=3, day=5, hour=12)
    for text, when in (
        ("Del año pasado", last_year),
        ("De ayer", now - timedelta(days=1)),
        ("De hoy", now),
    ):
        stored = message_store(sender=ana, text=text)
        Message.objects.filter(id=stored["id"]).update(created_at=when)
    page = open_support(open_context(user=ana, timezone_id="UTC"))
    expect(page.locator("#messages li[data-id]")).to_have_count(3)

    days = page.locator("#messages li.day")
    expect(days).to_have_text(
        [re.compile(rf"\bMarch 5, {last_year.year}\b"), "Yesterday", "Today"]
    )
    old_time = page.locator("#messages li[data-id] time").first
    expect(old_time).to_contain_text(str(last_year.year))
    # Each day's messages follow its separator.
    order = page.locator("#messages > li").evaluate_all(
        "items => items.map(i => i.classList.contains('day') ? 'day' : 'msg')"
    )
    assert order == ["day", "msg", "day", "msg", "day", "msg"]


def test_the_newest_message_stays_in_view_when_the_composer_grows(
    make_user, open_context
):
    ana = make_user("ana", name="Ana García")
    for number in range(1, 31):
        message_store(sender=ana, text=f"Mensaje {number}")
    page = open_support(open_context(user=ana))
    newest = page.locator("#messages li[data-id]").last
    expect(newest).to_contain_text("Mensaje 30")

    # A long draft: the composer grows to its full height, the list shrinks.
    page.locator("#composer-text").fill("\n".join(["una línea más"] * 12))

    page.wait_for_function(
        """() => document.getElementById("composer-text").offsetHeight > 100"""
    )
    # The newest message's whole bubble is inside the list's visible box.
    page.wait_for_function(
        """() => {
            const scroller = document.getElementById("scroller");
            const items = scroller.querySelectorAll("#messages li[data-id]");
            const last = items[items.length - 1].getBoundingClientRect();
            const box = scroller.getBoundingClientRect();
            return last.bottom <= box.bottom + 1 && last.top >= box.top;
        }""",
        timeout=5000,
    )
