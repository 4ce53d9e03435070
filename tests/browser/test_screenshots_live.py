"""Screenshots of the live signals: tests/browser/artifacts/live-*.png.

The customer's header in each presence state (the team online, away,
offline), someone typing on either side (the team's side with a customer
typing and a colleague writing a note), "Seen" on either side, and the
team strip over the inbox, with its Alerts menu shut and open; English and
Spanish, a desktop and a 360 px phone. Whether they look right is for a
person; they assert that the layouts hold (nothing wider than the screen,
the header's words within it).
"""

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from chat.services import message_store
from tests.browser.chat_page import connection, expect_connected, expect_stored
from tests.browser.conftest import DESKTOP
from tests.browser.live_page import availability, seen_labels, typing_line
from tests.browser.test_screenshots import shoot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 740}
QUESTION = "Hola, mi pedido 1234 no ha llegado. Lo pedí el lunes."
ANSWER = "¡Hola Ana! Lo miro ahora mismo."
FOLLOW_UP = "Gracias. El número de seguimiento es ES-77812."
REPLY = "Ya está en reparto: te llega hoy antes de las 14:00."
HEADER = {
    "en": {
        "online": "Support is online",
        "away": "We're away — leave a message and we'll answer here",
        "offline": "We're offline — leave a message and we'll answer here",
    },
    "es": {
        "online": "Soporte en línea",
        "away": "Estamos ausentes — deja un mensaje y te responderemos aquí",
        "offline": "Estamos desconectados — deja un mensaje y te responderemos aquí",
    },
}


@pytest.fixture
def people(make_user) -> dict:
    ana = make_user("ana", name="Ana García")
    sofia = make_user("sofia", role=Role.ADMIN, name="Sofía Martín")
    luis = make_user("luis", role=Role.ADMIN, name="Luis Gómez")
    make_user("carmen", role=Role.ADMIN, name="Carmen Ruiz")
    marta = make_user("marta", name="Marta Ruiz")
    message_store(sender=marta, text="¿Puedo cambiar la dirección de entrega?")
    message_store(sender=ana, text=QUESTION)
    message_store(sender=sofia, to="ana", text=ANSWER)
    message_store(sender=ana, text=FOLLOW_UP)
    return {"ana": ana, "sofia": sofia, "luis": luis}


def expect_header_fits(page) -> None:
    """The header's words are on the screen, not cut off beyond its edge."""
    box = connection(page).bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"]


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_screenshots_of_the_live_signals(
    people, open_context, start_server, size, language
):
    viewport = DESKTOP if size == "desktop" else PHONE
    locale = "en-US" if language == "en" else "es-ES"
    words = HEADER[language]
    # A daphne of its own: the team's roster, read fresh, holds every admin here.
    server = start_server()

    def page_of(user):
        context = open_context(
            server=server, user=user, viewport=viewport, locale=locale
        )
        page = context.new_page()
        return page

    customer = page_of(people["ana"])
    customer.goto("/support")
    expect_connected(customer)
    expect_stored(customer, FOLLOW_UP)
    header = connection(customer)
    expect(header).to_have_attribute("data-team", "offline")
    expect(header).to_have_text(words["offline"])
    expect_header_fits(customer)
    shoot(customer, f"live-header-offline-{size}-{language}")

    sofia = page_of(people["sofia"])
    sofia.goto("/support?with=ana")
    expect_connected(sofia)
    expect_stored(sofia, FOLLOW_UP)
    expect(header).to_have_text(words["online"])
    # She opened the thread: the customer's newest message is seen.
    expect(seen_labels(customer)).to_have_count(1)
    expect_header_fits(customer)
    shoot(customer, f"live-header-online-{size}-{language}")

    if size == "phone":
        sofia.locator("#back").click()
    availability(sofia).select_option("away")
    expect(header).to_have_text(words["away"])
    expect_header_fits(customer)
    shoot(customer, f"live-header-away-{size}-{language}")
    availability(sofia).select_option("online")
    expect(header).to_have_text(words["online"])

    # The team's strip over the inbox, a colleague online, the Alerts menu open.
    luis = page_of(people["luis"])
    luis.goto("/support?with=ana")
    expect_connected(luis)
    expect(sofia.locator("#team [data-user='luis']")).to_have_attribute(
        "data-status", "online"
    )
    expect(sofia.locator("#team [data-user='carmen']")).to_have_attribute(
        "data-status", "offline"
    )
    shoot(sofia, f"live-inbox-{size}-{language}")
    sofia.locator("#alerts summary").click()
    shoot(sofia, f"live-alerts-{size}-{language}")
    sofia.locator("#alerts summary").click()
    sofia.locator("#conversations button.conv[data-user='ana']").click()
    expect_stored(sofia, FOLLOW_UP)

    # Typing: an agent, seen by the customer.
    sofia.locator("#composer-text").press_sequentially("Ya está en", delay=20)
    expect(typing_line(customer)).to_be_visible()
    shoot(customer, f"live-typing-customer-{size}-{language}")

    # Typing: the customer and a colleague's note, seen by the agent.
    customer.locator("#composer-text").press_sequentially("Una pregunta", delay=20)
    luis.locator("#composer-text").press("Control+Alt+n")
    luis.locator("#composer-text").press_sequentially("Lo llevo yo", delay=20)
    expect(typing_line(sofia).locator(".typing__who")).to_have_count(2)
    shoot(sofia, f"live-typing-admin-{size}-{language}")
    customer.locator("#composer-text").fill("")

    # Seen, on the customer's side (the agent read) and on the agent's side.
    sofia.locator("#composer-text").fill(REPLY)
    sofia.locator("#composer-text").press("Enter")
    expect_stored(customer, REPLY)
    expect(
        sofia.locator("#messages li[data-id]").last.locator(".msg__seen")
    ).to_be_visible()
    # The customer stopped typing: her line goes TYPING_SHOWN_MS after her
    # last typing frame. Luis's goes about as soon (his last frame came a
    # moment later), so the test waits for hers alone rather than for the
    # brief moment when only his is left, which a loaded machine can miss.
    expect(typing_line(sofia).locator(".typing__who[data-user='ana']")).to_have_count(
        0, timeout=12_000
    )
    luis.locator("#composer-text").fill("")
    expect(typing_line(sofia)).to_be_hidden(timeout=12_000)
    shoot(sofia, f"live-seen-admin-{size}-{language}")
    customer.locator("#composer-text").fill("")
    expect(typing_line(customer)).to_be_hidden(timeout=12_000)
    shoot(customer, f"live-seen-customer-{size}-{language}")
