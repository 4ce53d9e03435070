"""Screenshots of the support desk: tests/browser/artifacts/desk-*.png.

The inbox's views (tabs, owners, waiting times), a thread another agent
handles with a note in it and the composer in note mode, search results and
the canned-reply list; English and Spanish, a desktop and a 360 px phone.
Whether they look right is for a person; they assert only that the layouts
hold (nothing wider than the screen, the tabs within their own strip).
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from chat.models import CannedReply, Message, Thread
from chat.services import message_store
from tests.browser.chat_page import conversation, expect_connected, expect_stored
from tests.browser.conftest import DESKTOP
from tests.browser.test_screenshots import shoot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The phone of the brief: 360 px wide.
PHONE = {"width": 360, "height": 780}
NOTE = "Cliente VIP: si pide la devolución, ofrecerle el envío gratis."
LAST = "Perfecto. ¿Y el seguimiento del pedido 1234?"


@pytest.fixture
def desk(make_user) -> dict:
    soporte = make_user("soporte", role=Role.ADMIN, name="Soporte")
    sofia = make_user("sofia", role=Role.ADMIN, name="Sofía Martín")
    customers = {
        user: make_user(user, name=name)
        for user, name in (
            ("ana", "Ana García"),
            ("luis", "Luis Pérez"),
            ("marta", "Marta Ruiz"),
            ("pedro", "Pedro Sánchez"),
            ("angeles", "María de los Ángeles Fernández-Villaverde"),
        )
    }
    now = timezone.now()
    script = [
        (
            "angeles",
            {},
            "Buenas, quería cambiar la talla de un abrigo que compré.",
            2900,
        ),
        ("pedro", {}, "¿Puedo pagar contra reembolso?", 600),
        (sofia, {"to": "pedro"}, "No, lo sentimos: tarjeta o transferencia.", 590),
        ("marta", {}, "¿Puedo cambiar la dirección de entrega?", 240),
        (
            soporte,
            {"to": "marta"},
            "Sí, desde tu perfil, hasta que salga el pedido.",
            230,
        ),
        ("luis", {}, "Hola, ¿tenéis envío a Canarias?", 50),
        (sofia, {"to": "luis"}, "¡Hola Luis! Sí, en 3 a 5 días laborables.", 45),
        (sofia, {"to": "luis", "note": True}, NOTE, 44),
        ("luis", {}, LAST, 42),
        ("ana", {}, "Hola, mi pedido 1234 no ha llegado.", 7),
    ]
    for sender, extra, text, minutes_ago in script:
        sender = customers.get(sender, sender)
        stored = message_store(sender=sender, text=text, **extra)
        Message.objects.filter(id=stored["id"]).update(
            created_at=now - timedelta(minutes=minutes_ago)
        )
    for user, minutes_ago in (("angeles", 2900), ("luis", 42), ("ana", 7)):
        Thread.objects.filter(user__username=user).update(
            waiting_since=now - timedelta(minutes=minutes_ago)
        )
    Thread.objects.filter(user__username="pedro").update(status=Thread.RESOLVED)
    CannedReply.objects.create(
        shortcut="envio", text="Hola {name}: tu pedido sale hoy y llega en 48 h."
    )
    CannedReply.objects.create(
        shortcut="devolucion",
        text="{name}, puedes devolverlo gratis durante 30 días desde tu perfil.",
    )
    CannedReply.objects.create(shortcut="gracias", text="¡Gracias a ti, {name}!")
    return {"soporte": soporte}


def expect_tabs_fit(page) -> None:
    """The tabs scroll within their own strip; the page itself does not."""
    tabs = page.locator("#inbox-tabs")
    box = tabs.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"]


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_screenshots_of_the_desk(desk, open_context, size, language):
    viewport = DESKTOP if size == "desktop" else PHONE
    locale = "en-US" if language == "en" else "es-ES"
    context = open_context(user=desk["soporte"], viewport=viewport, locale=locale)
    page = context.new_page()

    page.goto("/support")
    expect_connected(page)
    expect(page.locator("#conversations button.conv")).to_have_count(3)
    expect(conversation(page, "angeles").locator(".conv__waiting")).to_be_visible()
    expect_tabs_fit(page)
    shoot(page, f"desk-inbox-{size}-{language}")

    page.locator("#tab-all").click()
    expect(page.locator("#conversations button.conv")).to_have_count(5)
    shoot(page, f"desk-inbox-all-{size}-{language}")

    conversation(page, "luis").click()
    expect_stored(page, LAST)
    expect(page.locator("#desk-banner")).not_to_be_empty()
    expect(page.locator("#messages li.msg--note")).to_have_count(1)
    page.locator("#composer-text").press("Control+Alt+n")
    page.locator("#composer-text").fill("Le paso el seguimiento en cuanto lo tenga.")
    shoot(page, f"desk-thread-{size}-{language}")

    page.locator("#composer-text").fill("")
    page.locator("#composer input[value=reply]").check()
    page.locator("#composer-text").press_sequentially("/")
    expect(page.locator("#canned-list [role=option]")).to_have_count(3)
    shoot(page, f"desk-canned-{size}-{language}")
    page.locator("#composer-text").press("Escape")

    if size == "phone":
        page.locator("#back").click()
    page.locator("#inbox-search").fill("pedido")
    expect(page.locator("#search-results button.conv")).to_have_count(3)
    expect(page.locator("#search-results mark").first).to_be_visible()
    shoot(page, f"desk-search-{size}-{language}")
