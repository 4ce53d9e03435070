"""/healthz answers from the process alone: a saturated database does not make a
healthy process fail its liveness probe (and get restarted for it)."""

import threading
import time
from types import SimpleNamespace

import pytest
from django.test import AsyncClient, Client

from chatproject import dblimit

# Far below dblimit's wait: an answer this fast did not wait for a slot.
PROMPT_SECONDS = 0.5


@pytest.fixture
def saturated_database(settings, monkeypatch):
    """Every database slot of every process-wide limiter taken, as by requests
    that hold them; a request that needs one gives up after 0.3 s."""
    settings.DATABASE_CONCURRENCY = 1
    monkeypatch.setattr(dblimit, "WAIT_SECONDS", 0.3)
    held: list[threading.BoundedSemaphore] = []

    def taken_semaphore(value: int) -> threading.BoundedSemaphore:
        semaphore = threading.BoundedSemaphore(value)
        for _ in range(value):
            semaphore.acquire()
        held.append(semaphore)
        return semaphore

    monkeypatch.setattr(
        dblimit, "threading", SimpleNamespace(BoundedSemaphore=taken_semaphore)
    )
    yield
    for semaphore in held:
        semaphore.release()


@pytest.mark.django_db
async def test_healthz_answers_at_once_while_every_database_slot_is_taken(
    saturated_database,
):
    client = AsyncClient()
    started = time.monotonic()
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert time.monotonic() - started < PROMPT_SECONDS
    # A request that needs the database still waits for a slot, then gives up.
    assert (await client.get("/readyz")).status_code == 503


@pytest.mark.django_db
def test_healthz_answers_at_once_while_every_database_slot_is_taken_under_wsgi(
    saturated_database,
):
    client = Client()
    started = time.monotonic()

    assert client.get("/healthz").status_code == 200
    assert time.monotonic() - started < PROMPT_SECONDS
    assert client.get("/readyz").status_code == 503


async def test_healthz_touches_neither_the_database_nor_the_channel_layer(
    monkeypatch,
):
    """No django_db mark: a query would fail the test."""

    def no_layer(*args, **kwargs):
        raise AssertionError("/healthz asked for the channel layer")

    monkeypatch.setattr("channels.layers.get_channel_layer", no_layer)
    monkeypatch.setattr("chatproject.health.get_channel_layer", no_layer)

    assert (await AsyncClient().get("/healthz")).status_code == 200
