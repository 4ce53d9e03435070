"""The Origin is compared in full on a real server (PROTOCOL.md 3.1)."""

import pytest
from websockets.exceptions import InvalidStatus

from tests.conftest import cookie_with_token, free_port, token_for

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


async def test_the_servers_own_origin_is_accepted(sockets, daphne_server, user):
    chat = await sockets.chat(token_for(user))
    assert chat.hello["user"] == "ana"


async def test_a_page_on_another_port_of_the_same_host_is_refused_with_403(
    sockets, daphne_server, user
):
    other_port = free_port()
    assert other_port != daphne_server.port
    with pytest.raises(InvalidStatus) as refused:
        await sockets.raw(
            cookie=cookie_with_token(token_for(user)),
            origin=f"http://127.0.0.1:{other_port}",
        )
    assert refused.value.response.status_code == 403


async def test_a_page_on_another_allowed_host_name_is_refused_with_403(
    sockets, daphne_server, user
):
    with pytest.raises(InvalidStatus) as refused:
        await sockets.raw(
            cookie=cookie_with_token(token_for(user)),
            origin=f"http://localhost:{daphne_server.port}",
        )
    assert refused.value.response.status_code == 403
