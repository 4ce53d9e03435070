"""Spanish or English: the browser's language first, then the person's choice."""

import pytest
from playwright.sync_api import expect

from tests.browser.chat_page import connection, expect_connected

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SPANISH_NOBODY_THERE = "Estamos desconectados — deja un mensaje y te responderemos aquí"


def language_cookie(context) -> str | None:
    return next(
        (c["value"] for c in context.cookies() if c["name"] == "django_language"), None
    )


def test_a_spanish_browser_gets_spanish_and_an_english_one_english(user, open_context):
    spanish = open_context(locale="es-ES").new_page()
    spanish.goto("/login?next=/support&reason=4004")
    expect(spanish.locator("html")).to_have_attribute("lang", "es")
    expect(spanish.locator("h1")).to_have_text("Iniciar sesión")
    expect(spanish.get_by_label("Contraseña")).to_be_visible()
    expect(spanish.locator(".notice")).to_have_text(
        "Tu sesión ha caducado. Vuelve a iniciar sesión."
    )

    english = open_context(locale="en-US").new_page()
    english.goto("/login?next=/support&reason=4004")
    expect(english.locator("html")).to_have_attribute("lang", "en")
    expect(english.locator("h1")).to_have_text("Sign in")
    expect(english.locator(".notice")).to_have_text(
        "Your session has expired. Please sign in again."
    )

    chat = open_context(locale="es-ES", user=user).new_page()
    chat.goto("/support")
    expect_connected(chat)
    # Strings from the page's scripts come from the JavaScript catalog. Once
    # connected, a customer's header tells the team's presence (nobody here).
    expect(connection(chat)).to_have_text(SPANISH_NOBODY_THERE)
    expect(chat.locator("#composer-text")).to_have_attribute(
        "placeholder", "Escribe un mensaje…"
    )
    expect(chat.locator("#messages")).to_contain_text(
        "Escribe tu pregunta abajo: el equipo de soporte te responde aquí."
    )


def test_the_switcher_changes_the_language_and_remembers_it(user, open_context):
    context = open_context(locale="en-US", user=user)
    page = context.new_page()
    page.goto("/support")
    expect_connected(page)
    expect(connection(page)).to_have_text(
        "We're offline — leave a message and we'll answer here"
    )

    page.get_by_role("button", name="Español").click()

    expect(page.locator("html")).to_have_attribute("lang", "es")
    assert page.url.endswith("/support")
    expect_connected(page)
    expect(connection(page)).to_have_text(SPANISH_NOBODY_THERE)
    expect(page.get_by_role("button", name="Enviar")).to_be_visible()
    assert language_cookie(context) == "es"
    page.reload()
    expect(page.locator("h1")).to_have_text("Equipo de soporte")
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.locator("h1")).to_have_text("Habla con nuestro equipo de soporte")

    page.goto("/support")
    page.get_by_role("button", name="English").click()
    expect(page.locator("h1")).to_have_text("Support team")
    assert language_cookie(context) == "en"
