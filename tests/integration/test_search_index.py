"""SQLite's search index, brought up to date after the messages are stored
(chat.search_index, migration 0005): nothing is ever missed by a search,
and the FTS5 index never disagrees with the messages."""

import asyncio
import threading

import pytest
from channels.db import database_sync_to_async
from django.core.management import call_command
from django.db import connection

from chat import inbox, loopdb, search_index, services
from chat.models import Message
from chat.services import message_store
from tests.integration.desk_helpers import assert_search_index_sound


@pytest.fixture(autouse=True)
def _sqlite_only(db):
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL keeps its search column in the row")


def found(admin, query: str) -> dict[str, str | None]:
    rows, _, _ = inbox.conversation_search(admin=admin, query=query, limit=20)
    return {row["user"]: row["match"] and row["match"]["text"] for row in rows}


def test_a_stored_message_waits_for_the_index_and_a_search_still_finds_it(
    user, admin_user
):
    message_store(sender=user, text="Mi paquete llegó abollado")
    assert search_index.pending()

    assert found(admin_user, "abollado") == {"ana": "Mi paquete llegó abollado"}
    assert not search_index.pending()
    assert_search_index_sound()


def test_a_message_edited_before_it_is_indexed_is_found_by_its_new_text(
    user, admin_user
):
    message = message_store(sender=user, text="texto primero")
    Message.objects.filter(pk=message["id"]).update(text="texto corregido")

    assert found(admin_user, "corregido") == {"ana": "texto corregido"}
    assert found(admin_user, "primero") == {}
    assert_search_index_sound()


def test_a_message_edited_after_it_is_indexed_is_found_by_its_new_text(
    user, admin_user
):
    message = message_store(sender=user, text="texto primero")
    search_index.catch_up()
    Message.objects.filter(pk=message["id"]).update(text="texto corregido")

    assert found(admin_user, "corregido") == {"ana": "texto corregido"}
    assert found(admin_user, "primero") == {}
    assert_search_index_sound()


@pytest.mark.parametrize("indexed_first", [False, True])
def test_a_deleted_message_leaves_the_index_sound(user, admin_user, indexed_first):
    kept = message_store(sender=user, text="esto se queda")
    gone = message_store(sender=user, text="esto se borra")
    if indexed_first:
        search_index.catch_up()
    Message.objects.filter(pk=gone["id"]).delete()

    assert found(admin_user, "borra") == {}
    assert found(admin_user, "queda") == {"ana": kept["text"]}
    assert_search_index_sound()


def test_a_long_backlog_is_indexed_in_steps(user, admin_user, monkeypatch):
    monkeypatch.setattr(search_index, "CHUNK", 2)
    for n in range(5):
        message_store(sender=user, text=f"aviso número {n}")

    search_index.catch_up()

    assert not search_index.pending()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM chat_message_search "
            "WHERE chat_message_search MATCH 'aviso'"
        )
        assert cursor.fetchone()[0] == 5
    assert_search_index_sound()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("memory_layer")
async def test_the_loop_indexes_what_it_stored_in_steps_between_batches(
    user, monkeypatch
):
    steps = []
    real_step = search_index.index_step

    def counting_step(cursor, limit):
        indexed = real_step(cursor, limit)
        steps.append((threading.current_thread() is threading.main_thread(), indexed))
        return indexed

    monkeypatch.setattr(search_index, "index_step", counting_step)
    monkeypatch.setattr(loopdb, "INDEX_AFTER_MESSAGES", 3)
    monkeypatch.setattr(loopdb, "INDEX_STEP_MESSAGES", 2)
    # Counted from zero, nothing scheduled: the loop's connection outlives
    # tests (and their event loops).
    db = loopdb.loop_connection()
    db.unindexed, db.index_step_due = 0, False
    pending = database_sync_to_async(search_index.pending)
    for n in range(2):
        await services.amessage_post(sender=user, text=f"mensaje {n}")
    await asyncio.sleep(0)
    assert steps == []
    assert await pending()

    await services.amessage_post(sender=user, text="mensaje 2")
    for _ in range(100):
        if not await pending():
            break
        await asyncio.sleep(0.01)

    # On the loop's thread (the main one here), two messages, then the last.
    assert steps == [(True, 2), (True, 1)]
    assert not await pending()
    await database_sync_to_async(assert_search_index_sound)()


@pytest.mark.django_db(transaction=True)
def test_migrating_back_and_forth_keeps_every_message_findable(user, admin_user):
    message_store(sender=user, text="antes de volver atrás")

    call_command("migrate", "chat", "0004", verbosity=0)
    message_store(sender=user, text="con los disparadores de antes")
    call_command("migrate", "chat", verbosity=0)
    message_store(sender=user, text="y después otra vez")

    for word in ("volver", "disparadores", "despues"):
        assert list(found(admin_user, word)) == ["ana"], word
    assert_search_index_sound()
