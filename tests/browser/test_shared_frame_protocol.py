"""Chromium's own WebSocket against uvicorn serving with SharedFrameProtocol
(chatproject.websocket.uvicorn_protocol), as README's "Production" command
line runs it: a raw ``new WebSocket`` from one of the site's pages, then the
chat page itself."""

from collections.abc import Iterator

import pytest
from django.conf import settings

from accounts.models import Role
from chat.frames import CLOSE_FRAME_TOO_LARGE, CLOSE_REASONS
from tests import servers
from tests.browser.chat_page import (
    WAIT_MS,
    conversation,
    expect_connected,
    expect_stored,
    open_support,
    sign_in_with_form,
    write,
)
from tests.browser.conftest import LiveServer, add_token_cookie
from tests.conftest import token_for
from tests.integration.live.conftest import server_command

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PROTOCOL_CLASS = "chatproject.websocket.uvicorn_protocol:SharedFrameProtocol"


class UvicornServer(LiveServer):
    """The browser tests' server, environment and all, run by uvicorn."""

    def start(self) -> None:
        argv = server_command("uvicorn", self.port)
        assert argv[argv.index("--ws") + 1] == PROTOCOL_CLASS
        self.starts += 1
        self.process = servers.start_server(
            argv,
            port=self.port,
            log_path=self.log_dir / f"uvicorn-{self.starts}.log",
            cwd=settings.BASE_DIR,
            env=self.env,
        )


@pytest.fixture(scope="module")
def uvicorn_server(django_db_setup, tmp_path_factory, static_root) -> Iterator:
    server = UvicornServer(tmp_path_factory.mktemp("uvicorn-browser"), static_root)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def people(make_user):
    return {
        "ana": make_user("ana", name="Ana García"),
        "soporte": make_user("soporte", role=Role.ADMIN, name="Soporte"),
    }


# Runs in the page: hello, one message and its echo, then a frame over the
# app's 64 KiB, which the server answers with a "closing" frame and 4009.
RAW_SOCKET_SCRIPT = """
async ({url, text, big}) => {
  const ws = new WebSocket(url);
  const frames = [];
  const waiting = [];
  ws.onmessage = (event) => {
    const frame = JSON.parse(event.data);
    if (frame.type === "presence") return;
    frames.push(frame);
    while (waiting.length) waiting.shift()();
  };
  const closed = new Promise((resolve) => {
    ws.onclose = (e) => resolve({code: e.code, reason: e.reason, clean: e.wasClean});
  });
  const next = async () => {
    while (!frames.length) await new Promise((wake) => waiting.push(wake));
    return frames.shift();
  };
  const hello = await next();
  ws.send(JSON.stringify({type: "send", text, client_id: "b-1"}));
  const echo = await next();
  ws.send(JSON.stringify({type: "send", text: "x".repeat(big), client_id: "b-2"}));
  const closing = await next();
  return {hello, echo, closing, close: await closed};
}
"""


def test_chromiums_websocket_gets_hello_its_echo_and_the_servers_close(
    uvicorn_server, open_context, people
):
    context = open_context(server=uvicorn_server)
    page = context.new_page()
    # The site's own page, its Content-Security-Policy included; signed out,
    # or it would send us on to the chat, which opens a socket of its own.
    page.goto("/login")
    add_token_cookie(context, uvicorn_server, token_for(people["ana"]))
    text = "desde Chromium: ñandú 🙂 " * 10  # over 125 bytes: a 16-bit length
    seen = page.evaluate(
        RAW_SOCKET_SCRIPT,
        {"url": uvicorn_server.ws_url, "text": text, "big": 80 * 1024},
    )
    assert (seen["hello"]["type"], seen["hello"]["user"]) == ("hello", "ana")
    assert (seen["echo"]["type"], seen["echo"]["text"]) == ("message", text)
    assert seen["echo"]["client_id"] == "b-1"
    reason = CLOSE_REASONS[CLOSE_FRAME_TOO_LARGE]
    assert seen["closing"] == {
        "type": "closing",
        "code": CLOSE_FRAME_TOO_LARGE,
        "reason": reason,
    }
    assert seen["close"] == {
        "code": CLOSE_FRAME_TOO_LARGE,
        "reason": reason,
        "clean": True,
    }


def test_the_chat_page_works_on_it(uvicorn_server, open_context, people):
    user_page = open_context(server=uvicorn_server).new_page()
    sign_in_with_form(user_page, "ana")
    expect_connected(user_page)
    admin_page = open_support(
        open_context(server=uvicorn_server, user=people["soporte"]), "?view=all"
    )

    write(user_page, "¿Me oís por uvicorn? 🙂")
    expect_stored(user_page, "¿Me oís por uvicorn? 🙂")
    conversation(admin_page, "ana").click()
    expect_stored(admin_page, "¿Me oís por uvicorn? 🙂", timeout=WAIT_MS)
    write(admin_page, "Alto y claro.")
    expect_stored(user_page, "Alto y claro.")
