"""A session belongs to an account, not a name, on every process (PROTOCOL.md 1, 3.4).

Renaming or deleting an account closes its sockets on every server process,
and whoever holds the name next never inherits its tokens. When the live
announcement cannot reach a process, the journal of ended sessions does.
"""

import asyncio
import json
import time
import urllib.error

import pytest
from asgiref.sync import sync_to_async
from websockets.exceptions import ConnectionClosed

from tests.conftest import cookie_with_token, token_for
from tests.integration.live.conftest import (
    open_socket,
    running_daphne,
)
from tests.integration.live.test_revocation_live import (
    REVOKED,
    assert_revoked_within,
    chat_on,
    run_in_another_process,
)
from tests.integration.live.wire import get_json

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

# PROTOCOL.md 3.4: within 10 s when the live announcement was lost.
CATCH_UP_WITHIN_SECONDS = 10

ACCOUNT_CHANGES = {
    "rename": "u.username = 'speedy'; u.save()",
    "deletion": "u.delete()",
}


@pytest.fixture(scope="module")
def second_daphne(redis_url, tmp_path_factory, django_db_setup):
    """A second daphne on the same Redis and database as the `redis` server."""
    log_path = tmp_path_factory.mktemp("daphne-second") / "daphne.log"
    with running_daphne("redis", redis_url, log_path) as server:
        yield server


async def status_of(server, path: str, token: str) -> int:
    try:
        status, _ = await get_json(server.http_url, path, token)
    except urllib.error.HTTPError as refused:
        return refused.code
    return status


async def closing_frame_within(chat, seconds: float) -> tuple[list, int | None]:
    """Frames up to the close (presence frames aside) and its code; fails if the
    socket outlives ``seconds``."""
    frames = []

    async def drain():
        while True:
            try:
                frame = json.loads(await chat.ws.recv())
                if frame["type"] != "presence":
                    frames.append(frame)
            except ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else None

    return frames, await asyncio.wait_for(drain(), seconds)


async def change_racerx_elsewhere(change: str, redis_url: str) -> None:
    """Apply ``change`` to the account `racerx` from a `manage.py shell` process."""
    code = (
        "from accounts.models import User; "
        f"u = User.objects.get(username='racerx'); {change}"
    )
    await asyncio.to_thread(run_in_another_process, code, redis_url)


@pytest.mark.redis
@pytest.mark.parametrize("daphne_server", ["redis"], indirect=True)
@pytest.mark.parametrize("change", ACCOUNT_CHANGES.values(), ids=ACCOUNT_CHANGES)
async def test_renaming_or_deleting_an_account_closes_its_sockets_on_every_process(
    daphne_server, second_daphne, redis_url, make_user, change
):
    racer = await sync_to_async(make_user)("racerx")
    token = token_for(racer)
    on_first = await chat_on(daphne_server, token)
    on_second = await chat_on(second_daphne, token)
    await change_racerx_elsewhere(change, redis_url)
    started = time.monotonic()
    await assert_revoked_within(on_first, started)
    await assert_revoked_within(on_second, started)


@pytest.mark.redis
@pytest.mark.parametrize("daphne_server", ["redis"], indirect=True)
@pytest.mark.parametrize("change", ACCOUNT_CHANGES.values(), ids=ACCOUNT_CHANGES)
async def test_the_next_holder_of_a_freed_name_never_inherits_the_old_sessions(
    daphne_server, second_daphne, redis_url, make_user, change
):
    old = await sync_to_async(make_user)("racerx")
    old_token = token_for(old)
    await change_racerx_elsewhere(change, redis_url)
    newcomer = await sync_to_async(make_user)("racerx", name="Someone Else")

    for server in (daphne_server, second_daphne):
        assert await status_of(server, "/api/me", old_token) == 403
        assert await status_of(server, "/api/messages/mine", old_token) == 403
        ws = await open_socket(server, cookie=cookie_with_token(old_token))
        assert json.loads(await ws.recv())["code"] == 4003
        await ws.close()
    mine = await chat_on(second_daphne, token_for(newcomer))
    assert mine.hello["name"] == "Someone Else"
    await mine.ws.close()


@pytest.mark.parametrize("daphne_server", ["memory", "uvicorn"], indirect=True)
async def test_a_deactivation_from_a_shell_reaches_sockets_on_the_in_memory_layer(
    daphne_server, make_user
):
    # The shell's process has its own in-memory layer: nothing it publishes
    # reaches the server. The journal of ended sessions does.
    user = await sync_to_async(make_user)("ana")
    chat = await chat_on(daphne_server, token_for(user))
    code = (
        "from accounts.models import User; "
        "u = User.objects.get(username='ana'); u.is_active = False; u.save()"
    )
    await asyncio.to_thread(run_in_another_process, code, None)
    started = time.monotonic()
    frames, close_code = await closing_frame_within(chat, CATCH_UP_WITHIN_SECONDS + 2)
    assert frames == [REVOKED]
    assert close_code == 4005
    assert time.monotonic() - started <= CATCH_UP_WITHIN_SECONDS
