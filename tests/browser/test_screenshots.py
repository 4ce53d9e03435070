"""Screenshots of the chat for people to look at: tests/browser/artifacts/*.png.

They assert only that the layouts hold (nothing wider than the screen, the
phone inbox shows one pane at a time); whether they look right is for a person.
"""

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from chat.services import message_store
from tests.browser.chat_page import conversation, expect_connected, expect_stored
from tests.browser.conftest import ARTIFACTS, DESKTOP, PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG_WORD = "https://example.com/" + "seguimiento" * 12


@pytest.fixture
def people(make_user) -> dict:
    ana = make_user("ana", name="Ana García")
    luis = make_user("luis", name="Luis Pérez")
    marta = make_user("marta", name="Marta Ruiz")
    jefa = make_user("jefa", role=Role.ADMIN, name="Carmen (soporte)")
    soporte = make_user("soporte", role=Role.ADMIN, name="Soporte")
    message_store(sender=marta, text="¿Puedo cambiar la dirección de entrega?")
    message_store(sender=jefa, to="marta", text="Sí, desde tu perfil.")
    message_store(sender=luis, text="Hola, ¿tenéis envío a Canarias?")
    message_store(sender=luis, text="Es para un regalo 🎁")
    script = [
        (ana, {}, "Hola, mi pedido 1234 no ha llegado.\nLo pedí el lunes."),
        (jefa, {"to": "ana"}, "¡Hola Ana! Lo miro ahora mismo."),
        (soporte, {"to": "ana"}, f"Está en reparto. Seguimiento: {LONG_WORD}"),
        (ana, {}, "¡Genial, gracias! 🙌"),
        (ana, {}, "Una cosa más: ¿puedo cambiar la hora de entrega?"),
    ]
    for sender, to, text in script:
        message_store(sender=sender, text=text, **to)
    return {"ana": ana, "soporte": soporte}


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width, name
    page.screenshot(path=ARTIFACTS / f"{name}.png")


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_screenshots_of_the_user_view_and_the_admin_inbox(people, open_context, size):
    viewport = DESKTOP if size == "desktop" else PHONE

    user_page = open_context(user=people["ana"], viewport=viewport).new_page()
    user_page.goto("/support")
    expect_connected(user_page)
    expect_stored(user_page, "¡Genial, gracias! 🙌")
    user_page.locator("#composer-text").fill("Me viene mejor por la tarde")
    shoot(user_page, f"user-{size}")

    admin_page = open_context(user=people["soporte"], viewport=viewport).new_page()
    admin_page.goto("/support")
    expect_connected(admin_page)
    expect(conversation(admin_page, "ana")).to_be_visible()
    if size == "phone":
        expect(admin_page.locator(".thread")).to_be_hidden()
        shoot(admin_page, "admin-phone-inbox")
    conversation(admin_page, "ana").click()
    expect_stored(admin_page, "¡Genial, gracias! 🙌")
    if size == "phone":
        expect(admin_page.locator(".inbox")).to_be_hidden()
        expect(admin_page.locator("#back")).to_be_visible()
    shoot(admin_page, f"admin-{size}")
    if size == "phone":
        admin_page.locator("#back").click()
        expect(conversation(admin_page, "ana")).to_be_focused()


def test_screenshots_of_the_sign_in_and_sign_up_pages(user, open_context):
    page = open_context(viewport=PHONE).new_page()
    page.goto("/login?next=/support&reason=4005")
    expect(page.locator(".notice")).to_be_visible()
    shoot(page, "login-phone")
    page.get_by_label("Username").fill("ana")
    page.get_by_label("Password").fill("not the password")
    page.locator("form[action='/login']").get_by_role("button").click()
    expect(page.locator(".alert")).to_have_text("Wrong username or password.")
    shoot(page, "login-phone-error")

    page = open_context(viewport=DESKTOP).new_page()
    page.goto("/register")
    page.get_by_label("Username").fill("ana")
    page.get_by_label("Password").fill("correct horse battery staple")
    page.locator("form[action='/register']").get_by_role("button").click()
    expect(page.locator("#id_username-errors")).to_have_text("That username is taken.")
    expect(page.get_by_label("Username")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Username").fill("pedro")
    page.get_by_label("Password").fill("1234")
    page.locator("form[action='/register']").get_by_role("button").click()
    expect(page.locator("#id_password-errors li")).to_have_count(3)
    expect(page.get_by_label("Password")).to_have_attribute(
        "aria-describedby", "id_password-errors id_password-help"
    )
    shoot(page, "register-desktop")
