"""Screenshots of the issue 13 page fixes: tests/browser/artifacts/issue13-*.png.

Runs, days, the character counter and the form errors, in English and
Spanish, on a desktop and a 360 px phone; whether they look right is for a
person. They assert only that nothing is wider than the screen.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from chat.models import Message
from chat.services import message_store
from tests.browser.chat_page import expect_connected, expect_stored
from tests.browser.conftest import ARTIFACTS, DESKTOP, PHONE
from tests.browser.test_screenshots import shoot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def ana(make_user):
    ana = make_user("ana", name="Ana García")
    soporte = make_user("soporte", role=Role.ADMIN, name="Soporte")
    now = timezone.now()
    script = [
        (ana, {}, "¿Seguís abiertos en agosto?", now.replace(year=now.year - 1)),
        (soporte, {"to": "ana"}, "Sí, todo el mes.", now.replace(year=now.year - 1)),
        (ana, {}, "Hola, mi pedido 1234 no ha llegado.", now - timedelta(days=1)),
        (ana, {}, "Lo pedí el lunes.", now - timedelta(days=1)),
        (soporte, {"to": "ana"}, "Lo miro ahora mismo.", now - timedelta(minutes=3)),
        (
            soporte,
            {"to": "ana"},
            "Está en reparto: llega hoy.",
            now - timedelta(minutes=2),
        ),
        (ana, {}, "¡Genial, gracias! 🙌", now),
    ]
    for sender, to, text, when in script:
        stored = message_store(sender=sender, text=text, **to)
        Message.objects.filter(id=stored["id"]).update(created_at=when)
    return ana


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_screenshots_of_the_issue_13_fixes(ana, open_context, size, language):
    viewport = DESKTOP if size == "desktop" else PHONE
    locale = "en-US" if language == "en" else "es-ES"
    ARTIFACTS.mkdir(exist_ok=True)

    page = open_context(user=ana, viewport=viewport, locale=locale).new_page()
    page.goto("/support")
    expect_connected(page)
    expect_stored(page, "¡Genial, gracias! 🙌")
    page.locator("#composer-text").fill("a" * 3950)
    expect(page.locator("#composer-count")).to_be_visible()
    shoot(page, f"issue13-chat-{size}-{language}")

    visitor = open_context(viewport=viewport, locale=locale).new_page()
    visitor.goto("/register")
    visitor.locator("#id_username").fill("soporte")
    visitor.locator("#id_password").fill("corta")
    visitor.locator("form[action='/register'] button[type=submit]").click()
    expect(visitor.locator(".errors")).to_have_count(2)
    shoot(visitor, f"issue13-register-{size}-{language}")
