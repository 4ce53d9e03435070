"""Batched storage: concurrent posts share a transaction, refusals stay their own."""

import asyncio
import sqlite3
import threading

import pytest
from channels.db import database_sync_to_async
from django.db import OperationalError, connection

from chat import loopdb, services, store
from chat.frames import ChatError
from chat.models import Message, Thread
from chat.writer import BatchWriter

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("memory_layer"),
]


async def test_concurrent_posts_are_stored_in_batches_with_their_own_outcomes(
    user, admin_user, monkeypatch
):
    batch_sizes = []
    real_store = store.messages_store_on_loop

    def counting_store(drafts):
        batch_sizes.append(len(drafts))
        return real_store(drafts)

    monkeypatch.setattr(store, "messages_store_on_loop", counting_store)

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
    async def database_gone(drafts):
        raise OperationalError("database is locked")

    writer = BatchWriter(store=database_gone, publish=services.publish_batch)
    monkeypatch.setattr(services, "message_writer", writer)
    with pytest.raises(OperationalError):
        await services.amessage_post(sender=user, text="hola")
    assert not await database_sync_to_async(Message.objects.exists)()


async def test_sqlite_writes_happen_on_the_loop_and_wait_on_the_database_thread(
    user, monkeypatch
):
    """Stored on the loop's thread when the write lock is free; when another
    connection holds it, the batch waits on the database thread instead of
    blocking the loop."""
    stored_on = []
    real_on_loop, real_on_thread = store.messages_store_on_loop, store.messages_store

    def on_loop(drafts):
        outcomes = real_on_loop(drafts)
        stored_on.append("loop")
        return outcomes

    def on_thread(drafts):
        stored_on.append("thread")
        return real_on_thread(drafts)

    monkeypatch.setattr(store, "messages_store_on_loop", on_loop)
    monkeypatch.setattr(store, "messages_store", on_thread)

    await services.amessage_post(sender=user, text="sin esperas")
    assert stored_on == ["loop"]

    holder = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        post = asyncio.ensure_future(
            services.amessage_post(sender=user, text="tras el cerrojo")
        )
        # The loop is not blocked while the lock is held elsewhere.
        ticks = 0
        while ticks < 20:
            await asyncio.sleep(0.01)
            ticks += 1
        assert not post.done()
    finally:
        holder.execute("COMMIT")
        holder.close()
    frame = (await asyncio.wait_for(post, 10)).frame
    assert frame["text"] == "tras el cerrojo"
    assert stored_on == ["loop", "thread"]
    texts = await database_sync_to_async(
        lambda: list(Message.objects.order_by("id").values_list("text", flat=True))
    )()
    assert texts == ["sin esperas", "tras el cerrojo"]


async def test_the_wal_is_checkpointed_off_the_loop(user, monkeypatch):
    checkpoints = []
    real_checkpoint = loopdb.wal_checkpoint

    def counting_checkpoint():
        checkpoints.append(threading.current_thread().name)
        real_checkpoint()

    monkeypatch.setattr(loopdb, "wal_checkpoint", counting_checkpoint)
    monkeypatch.setattr(loopdb, "CHECKPOINT_COMMITS", 5)
    # By count only here, however slow the machine, and from zero (the
    # connection outlives tests).
    monkeypatch.setattr(loopdb, "CHECKPOINT_INTERVAL_SECONDS", 3600)
    loopdb.loop_connection().checkpoint_started()
    for n in range(12):
        await services.amessage_post(sender=user, text=f"mensaje {n}")
    for _ in range(100):
        if len(checkpoints) >= 2:
            break
        await asyncio.sleep(0.02)
    assert len(checkpoints) == 2
    assert all(name.startswith("chat-db") for name in checkpoints)
