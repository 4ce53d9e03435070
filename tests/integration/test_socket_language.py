"""A socket's error texts are in its page's language, even from a shared batch."""

import asyncio

import pytest
from channels.testing import WebsocketCommunicator

from tests.integration import ws_helpers

pytestmark = pytest.mark.django_db(transaction=True)


async def open_chat(user, language: bytes) -> WebsocketCommunicator:
    """A connected socket of ``user`` from a page in ``language``, `hello` read."""
    communicator, _ = await ws_helpers.open_chat(
        user, headers={"accept-language": language}
    )
    return communicator


async def test_each_socket_hears_refusals_in_its_own_language(
    user, admin_user, make_user, channel_layer_settings
):
    from channels.db import database_sync_to_async

    from accounts.models import Role

    english_admin = await database_sync_to_async(make_user)("carmen", role=Role.ADMIN)
    spanish = await open_chat(admin_user, b"es-ES,es;q=0.9")
    english = await open_chat(english_admin, b"en-GB,en;q=0.9")
    try:
        # Sent together, so both refusals come out of one storage batch.
        await asyncio.gather(
            spanish.send_json_to({"type": "send", "to": "nadie", "text": "hola"}),
            english.send_json_to({"type": "send", "to": "nobody", "text": "hi"}),
        )
        es = await spanish.receive_json_from(timeout=5)
        en = await english.receive_json_from(timeout=5)
        assert es["code"] == en["code"] == "unknown_user"
        assert es["detail"] == "No existe ningún usuario llamado nadie."
        assert en["detail"] == "There is no user named nobody."

        await spanish.send_json_to({"type": "send", "to": "ana", "text": "   "})
        assert (await spanish.receive_json_from(timeout=5))[
            "detail"
        ] == "El mensaje está vacío."
    finally:
        await spanish.disconnect()
        await english.disconnect()
