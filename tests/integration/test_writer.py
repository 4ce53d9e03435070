"""Batched storage: concurrent posts share a transaction, refusals stay their own."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.layers import channel_layers
from django.db import OperationalError

from chat import services
from chat.frames import ChatError
from chat.models import Message, Thread
from chat.writer import BatchWriter
from tests.conftest import layer_config

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def memory_layer(settings):
    settings.CHANNEL_LAYERS = layer_config("memory", None)
    channel_layers.backends.clear()


async def test_concurrent_posts_are_stored_in_batches_with_their_own_outcomes(
    user, admin_user, monkeypatch
):
    batch_sizes = []
    real_store = services.messages_store

    def counting_store(drafts):
        batch_sizes.append(len(drafts))
        return real_store(drafts)

    monkeypatch.setattr(services, "message_writer", BatchWriter(counting_store))

    async def post(n):
        to = "nadie" if n == 17 else "ana"
        return await services.amessage_post(
            sender=admin_user, text=f"respuesta {n}", to=to, client_id=str(n)
        )

    outcomes = await asyncio.gather(
        *(post(n) for n in range(40)), return_exceptions=True
    )

    refused = [o for o in outcomes if isinstance(o, ChatError)]
    assert [err.code for err in refused] == ["unknown_user"]
    stored = [o.frame for o in outcomes if not isinstance(o, Exception)]
    assert len(stored) == 39
    ids = [frame["id"] for frame in stored]
    assert ids == sorted(ids), "ids follow the order of the posts"
    assert await database_sync_to_async(Message.objects.count)() == 39
    thread = await database_sync_to_async(Thread.objects.get)(user=user)
    assert thread.last_message_id == max(ids)
    assert sum(batch_sizes) == 40 and max(batch_sizes) > 1


async def test_a_failed_batch_fails_every_post_in_it(user, monkeypatch):
    def database_gone(drafts):
        raise OperationalError("database is locked")

    monkeypatch.setattr(services, "message_writer", BatchWriter(database_gone))
    with pytest.raises(OperationalError):
        await services.amessage_post(sender=user, text="hola")
    assert not await database_sync_to_async(Message.objects.exists)()
