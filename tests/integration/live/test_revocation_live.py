"""Revocation reaches sockets on every process: through Redis, from anywhere."""

import asyncio
import http.cookies
import subprocess
import sys
import time
import urllib.request

import pytest
from asgiref.sync import sync_to_async

from accounts.models import Role
from tests.conftest import cookie_with_token, token_for
from tests.integration.live.conftest import (
    BASE_DIR,
    daphne_env,
    open_socket,
    running_daphne,
)
from tests.integration.live.wire import ChatSocket, frames_until_close

pytestmark = [
    pytest.mark.live,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    # Only a shared Redis carries events between processes.
    pytest.mark.parametrize("daphne_server", ["redis"], indirect=True),
]

CLOSE_WITHIN_SECONDS = 2
REVOKED = {"type": "closing", "code": 4005, "reason": "session revoked"}


@pytest.fixture(scope="module")
def second_daphne(daphne_server, redis_url, tmp_path_factory):
    """Another daphne process sharing the first one's Redis and database."""
    log_path = tmp_path_factory.mktemp("daphne-second") / "daphne.log"
    with running_daphne("redis", redis_url, log_path) as server:
        yield server


async def chat_on(server, token: str) -> ChatSocket:
    chat = ChatSocket(await open_socket(server, cookie=cookie_with_token(token)))
    chat.hello = await chat.recv_json()
    assert chat.hello["type"] == "hello"
    return chat


async def assert_revoked_within(chat: ChatSocket, started: float) -> None:
    frames, code = await frames_until_close(chat.ws)
    assert frames == [REVOKED]
    assert code == 4005
    assert time.monotonic() - started <= CLOSE_WITHIN_SECONDS


def run_in_another_process(code: str, redis_url: str | None) -> None:
    """Run Python in a fresh `manage.py shell` process, as an operator would
    (on Redis, or with no ``redis_url`` on an in-memory layer of its own)."""
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=BASE_DIR,
        env=daphne_env("redis" if redis_url else "memory", redis_url),
        check=True,
        timeout=60,
        capture_output=True,
    )


CHANGES = {
    "deactivation": "u.is_active = False; u.save()",
    "password change": "u.set_password('another long passphrase'); u.save()",
    "role change": f"u.role = {Role.ADMIN.value!r}; u.save()",
    "sign out everywhere": "from accounts import tokens; tokens.revoke_all(u)",
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
async def test_a_change_made_in_another_process_closes_the_sockets(
    daphne_server, redis_url, make_user, change
):
    user = await sync_to_async(make_user)("ana")
    chat = await chat_on(daphne_server, token_for(user))
    code = (
        "from accounts.models import User; "
        f"u = User.objects.get(username='ana'); {change}"
    )
    await asyncio.to_thread(run_in_another_process, code, redis_url)
    await assert_revoked_within(chat, time.monotonic())


def _post(base_url: str, path: str, token: str) -> int:
    with urllib.request.urlopen(  # noqa: S310 (loopback http:// URL)
        base_url + "/api/auth/csrf", timeout=5
    ) as response:
        jar = http.cookies.SimpleCookie(response.headers["Set-Cookie"])
    csrf = jar["csrftoken"].value
    request = urllib.request.Request(  # noqa: S310
        base_url + path,
        method="POST",
        data=b"{}",
        headers={
            "Cookie": cookie_with_token(token, f"csrftoken={csrf}"),
            "X-CSRFToken": csrf,
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        return response.status


async def test_a_logout_on_one_process_closes_the_socket_on_another(
    daphne_server, second_daphne, make_user
):
    user = await sync_to_async(make_user)("ana")
    token = token_for(user)
    other_token = token_for(user)
    on_second = await chat_on(second_daphne, token)
    unaffected = await chat_on(second_daphne, other_token)
    started = time.monotonic()
    status = await asyncio.to_thread(
        _post, daphne_server.http_url, "/api/auth/logout", token
    )
    assert status == 204
    await assert_revoked_within(on_second, started)
    echo = await unaffected.roundtrip("sigo aquí", "still-1")
    assert echo["type"] == "message" and echo["client_id"] == "still-1"
    await unaffected.ws.close()


async def test_users_and_admins_on_different_processes_chat_both_ways_once(
    daphne_server, second_daphne, make_user
):
    user = await sync_to_async(make_user)("ana")
    admin = await sync_to_async(make_user)("soporte", role=Role.ADMIN)
    ana = await chat_on(daphne_server, token_for(user))
    support = await chat_on(second_daphne, token_for(admin))
    try:
        echo = await ana.roundtrip("hola desde el proceso 1", "a-1")
        [seen] = await support.read_then_quiet(1)
        assert seen == echo
        reply = await support.roundtrip("hola desde el proceso 2", "s-1", to="ana")
        [heard] = await ana.read_then_quiet(1)
        assert heard == reply
        await ana.assert_quiet()
    finally:
        await ana.ws.close()
        await support.ws.close()
