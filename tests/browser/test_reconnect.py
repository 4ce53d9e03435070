"""The page rides out a server restart: it reconnects, resumes, and shows every
message exactly once."""

import json

import pytest
from playwright.sync_api import expect
from websockets.sync.client import connect

from accounts.models import Role
from chat.models import Message
from chat.services import message_store
from tests.browser.chat_page import (
    RECONNECT_WAIT_MS,
    WAIT_MS,
    connection,
    conversation,
    expect_connected,
    expect_stored,
    open_support,
    shown_ids,
    write,
)
from tests.conftest import cookie_with_token, token_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def post_from_a_script(server, token: str, text: str) -> dict:
    """Send one message over a plain WebSocket client and return its echo."""
    with connect(
        server.ws_url,
        origin=server.http_url,
        additional_headers={"Cookie": cookie_with_token(token)},
        open_timeout=WAIT_MS / 1000,
    ) as ws:
        hello = json.loads(ws.recv(timeout=WAIT_MS / 1000))
        assert hello["type"] == "hello", hello
        ws.send(
            json.dumps({"type": "send", "to": "ana", "text": text, "client_id": "s-1"})
        )
        while True:
            frame = json.loads(ws.recv(timeout=WAIT_MS / 1000))
            if frame.get("client_id") == "s-1":
                assert frame["type"] == "message", frame
                return frame


@pytest.fixture
def people(make_user) -> dict:
    return {
        "ana": make_user("ana", name="Ana García"),
        "soporte": make_user("soporte", role=Role.ADMIN, name="Soporte"),
    }


def test_both_pages_reconnect_after_a_restart_and_show_each_message_once(
    people, open_context, start_server
):
    ana, soporte = people["ana"], people["soporte"]
    server = start_server()
    user_page = open_support(open_context(server=server, user=ana))
    write(user_page, "Antes del corte")
    expect_stored(user_page, "Antes del corte")
    admin_page = open_support(open_context(server=server, user=soporte), "?with=ana")
    expect_stored(admin_page, "Antes del corte")

    server.stop()
    for page in (user_page, admin_page):
        expect(connection(page)).to_have_attribute("data-state", "reconnecting")
        expect(connection(page)).to_have_text("Reconnecting…")
    message_store(sender=ana, text="Guardado con el servidor parado")
    message_store(sender=soporte, to="ana", text="Respuesta guardada sin servidor")
    write(user_page, "Escrito sin conexión")
    expect(user_page.locator("#messages li.msg--pending")).to_have_count(1)

    server.start()
    post_from_a_script(server, token_for(soporte), "Desde un script, recién arrancado")

    for page in (user_page, admin_page):
        expect_connected(page, timeout=RECONNECT_WAIT_MS)
        # Sent from the user's page only once it was back online.
        expect_stored(page, "Escrito sin conexión")
    expected = list(
        Message.objects.filter(thread=ana).order_by("id").values_list("id", flat=True)
    )
    assert len(expected) == 5
    assert Message.objects.filter(text="Escrito sin conexión").count() == 1
    for page in (user_page, admin_page):
        expect(page.locator("#messages li[data-id]")).to_have_count(len(expected))
        assert shown_ids(page) == expected
        for message_id in expected:
            expect(page.locator(f'#messages [data-id="{message_id}"]')).to_have_count(1)
        expect(page.locator("#messages li.msg--pending")).to_have_count(0)
    expect(conversation(admin_page, "ana")).to_have_count(1)
