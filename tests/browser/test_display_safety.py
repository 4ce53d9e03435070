"""Bidirectional controls in messages and names change no order on the page.

An override (U+202E) in "factura_\\u202egnp.exe" would show "factura_exe.png";
one left open in a display name would reverse whatever follows it. The page
shows each control as a marker instead and isolates every piece of untrusted
text; the server stores the text as sent. Every control is written as an
escape here, never as the character itself.
"""

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from accounts.models import Role
from chat.services import message_store
from tests.browser.chat_page import (
    conversation,
    expect_connected,
    open_support,
    write,
)
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_screenshots import shoot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")

# Unterminated overrides: they would read "Eva el equipo" and "Soporte urgente".
CUSTOMER_NAME = "Eva \u202eopiuqe le"
TEAM_NAME = "Soporte \u202eetnegru"
FILE = "Te mando la factura_\u202egnp.exe\u202c, gracias"
LINKS = (
    "Descárgala: https://example.com/\u202etxt.exe\u202c o "
    "https://example.com/pedido/1234 si no"
)
# Marks reorder digits around them: "1 RLM 2 RLM 3" would show "132".
MARKS = "Pedido 1\u200f2\u200f3, importe 4\u061c5\u061c6 euros"
# An isolate and an override left open until the end of the message.
OPEN_ENDED = "Envío \u2067gratis hoy y \u202emañana no"
ANSWER = "Lo miro ahora mismo."

# The glyphs of an element's text in the order the screen shows them: line by
# line, left to right. Zero-width characters (the controls) have no box.
GLYPHS_AS_SHOWN = """root => {
  const glyphs = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let i = 0; i < node.data.length; i += 1) {
      if (/\\s/.test(node.data[i])) continue;
      const range = document.createRange();
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      const box = range.getBoundingClientRect();
      if (box.width === 0) continue;
      glyphs.push({ch: node.data[i], x: box.left, y: box.top, h: box.height});
    }
  }
  glyphs.sort((a, b) => (Math.abs(a.y - b.y) < a.h / 2 ? a.x - b.x : a.y - b.y));
  return glyphs.map((g) => g.ch).join("");
}"""


def reads(locator: Locator) -> str:
    """What a reader sees in ``locator``, without spaces, in screen order."""
    return locator.evaluate(GLYPHS_AS_SHOWN)


def logical(text: str) -> str:
    """``text`` as it should read: in stored order, controls and spaces removed."""
    return re.sub(r"\s", "", BIDI_CONTROLS.sub("", text))


def text_of(locator: Locator) -> str:
    """The DOM's text, which is also what copying the element copies."""
    return locator.evaluate("node => node.textContent")


def expect_isolated(locator: Locator) -> None:
    """Its own direction, and nothing inside it reaches the text around it."""
    expect(locator).to_have_attribute("dir", "auto")
    assert locator.evaluate("n => getComputedStyle(n).unicodeBidi") in {
        "isolate",
        "plaintext",
    }


def expect_shown_safely(locator: Locator, text: str) -> None:
    """``text`` reads in stored order, each control a visible marker, none active."""
    assert not BIDI_CONTROLS.search(text_of(locator)), text_of(locator)
    assert reads(locator) == logical(text)
    markers = locator.locator(".bidi-control")
    expect(markers).to_have_count(len(BIDI_CONTROLS.findall(text)))
    for marker in markers.all():
        expect(marker).to_be_visible()
        expect(marker).to_have_attribute("title", re.compile(r"U\+[0-9A-F]{4} "))


def bubble(page: Page, text: str) -> Locator:
    """The stored message ``text``, found by its words before any control."""
    found = page.locator("#messages li[data-id]").filter(
        has=page.locator(".msg__text", has_text=BIDI_CONTROLS.split(text)[0][:8])
    )
    expect(found).to_have_count(1)
    return found


@pytest.fixture
def people(make_user) -> dict:
    return {
        "eva": make_user("eva", name=CUSTOMER_NAME),
        "luis": make_user("luis", name="Luis Pérez"),
        "soporte": make_user("soporte", role=Role.ADMIN, name=TEAM_NAME),
        "jefa": make_user("jefa", role=Role.ADMIN, name="Carmen (soporte)"),
    }


def test_controls_in_a_message_show_as_markers_and_reorder_nothing(
    people, open_context
):
    customer = open_support(open_context(user=people["eva"]))
    team = open_support(open_context(user=people["soporte"]))
    for text in (FILE, MARKS, OPEN_ENDED):
        write(customer, text)
    conversation(team, "eva").click()

    def expect_every_message_shown_safely() -> None:
        for page in (customer, team):
            for text in (FILE, MARKS, OPEN_ENDED):
                shown = bubble(page, text).locator(".msg__text")
                expect_isolated(shown)
                expect_shown_safely(shown, text)

    expect_every_message_shown_safely()
    for page in (customer, team):
        page.reload()
        expect_connected(page)
    conversation(team, "eva").click()
    # The same, from the history instead of the socket.
    expect_every_message_shown_safely()


def test_a_url_with_a_control_is_no_link_and_a_link_reads_as_its_href(
    people, open_context
):
    customer = open_support(open_context(user=people["eva"]))
    write(customer, LINKS)

    shown = bubble(customer, LINKS).locator(".msg__text")
    expect_shown_safely(shown, LINKS)
    links = shown.locator("a")
    expect(links).to_have_count(1)
    expect(links).to_have_attribute("href", "https://example.com/pedido/1234")
    expect(links).to_have_attribute("dir", "ltr")
    assert links.evaluate("a => decodeURI(a.href) === a.textContent")
    assert reads(links) == "https://example.com/pedido/1234"


def test_a_name_with_an_open_override_reorders_nothing_around_it(people, open_context):
    message_store(sender=people["luis"], text="¿Enviáis a Canarias?")
    message_store(sender=people["eva"], text="Hola")
    message_store(sender=people["soporte"], to="eva", text=ANSWER)
    # "All": Eva's conversation was answered, so "Needs reply" leaves it out.
    team = open_support(open_context(user=people["jefa"]), "?view=all")
    customer = open_support(open_context(user=people["eva"]))

    row = conversation(team, "eva")
    name = row.locator(".conv__name")
    expect_isolated(name)
    expect_shown_safely(name, CUSTOMER_NAME)
    # The team's name in the preview is isolated: ": Lo miro..." keeps its order.
    preview = row.locator(".conv__preview")
    assert reads(preview) == logical(f"{TEAM_NAME}: {ANSWER}")
    expect_isolated(preview.locator("bdi").first)
    assert row.locator(".conv__time").bounding_box()["x"] > name.bounding_box()["x"]

    row.click()
    expect_shown_safely(team.locator("#thread-title"), CUSTOMER_NAME)
    question = bubble(team, "Hola")
    author = question.locator(".msg__author")
    expect_isolated(author)
    expect_shown_safely(author, CUSTOMER_NAME)

    # The person sees the team's name the same way, their time after it, and
    # their own name in the header marked too.
    expect_shown_safely(customer.locator(".who"), CUSTOMER_NAME)
    answer = bubble(customer, ANSWER)
    author = answer.locator(".msg__author")
    expect_isolated(author)
    expect_shown_safely(author, TEAM_NAME)
    author_box = author.bounding_box()
    time_box = answer.locator(".msg__time").bounding_box()
    assert time_box["x"] >= author_box["x"] + author_box["width"]
    assert reads(answer).startswith(logical(TEAM_NAME))


@pytest.mark.parametrize("size", ["desktop", "phone"])
@pytest.mark.parametrize("locale", ["en-US", "es-ES"])
def test_screenshots_of_a_thread_with_bidi_controls(people, open_context, size, locale):
    for text in (FILE, LINKS, MARKS):
        message_store(sender=people["eva"], text=text)
    message_store(sender=people["soporte"], to="eva", text=ANSWER)
    message_store(sender=people["eva"], text=OPEN_ENDED)
    viewport = DESKTOP if size == "desktop" else PHONE
    context = open_context(user=people["soporte"], viewport=viewport, locale=locale)

    page = open_support(context, "?with=eva")
    expect(bubble(page, OPEN_ENDED)).to_be_visible()
    explained = {"en": "an invisible character", "es": "un carácter invisible"}
    expect(page.locator("#messages .bidi-control").first).to_have_attribute(
        "title", re.compile(explained[locale[:2]])
    )
    shoot(page, f"bidi-admin-{size}-{locale[:2]}")
    if size == "phone":
        page.locator("#back").click()
        expect(conversation(page, "eva")).to_be_focused()
        shoot(page, f"bidi-admin-phone-inbox-{locale[:2]}")
