"""Health, readiness, metrics, and what a channel-layer outage does to a chat."""

import asyncio
import json
import logging
import time

import pytest
from channels.db import database_sync_to_async
from channels.layers import channel_layers

from chat.models import Message
from chatproject.logformat import JsonFormatter
from tests.conftest import free_port, layer_config, start_redis_server, token_for
from tests.integration.ws_helpers import open_chat

pytestmark = pytest.mark.django_db


def test_healthz_answers_while_the_process_lives(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_is_200_when_database_and_layer_answer(client, memory_layer):
    assert client.get("/readyz").status_code == 200


def test_readyz_is_503_when_the_channel_layer_does_not_answer(client, settings):
    settings.CHANNEL_LAYERS = layer_config(
        "redis", f"redis://127.0.0.1:{free_port()}/0"
    )
    channel_layers.backends.clear()
    try:
        response = client.get("/readyz")
    finally:
        channel_layers.backends.clear()
    assert response.status_code == 503
    assert response.json()["problems"][0].startswith("channel layer")


def test_metrics_are_served_to_the_local_scraper_only(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert b"chat_open_sockets" in response.content
    assert b"chat_handshake_rejections_total" in response.content
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 404
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 404


def test_log_lines_are_one_json_object_each():
    record = logging.makeLogRecord(
        {"name": "chat", "levelname": "WARNING", "msg": "rejected %s", "args": ("x",)}
    )
    record.client = "127.0.0.1:5000"
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert json.loads(line) | {"time": None} == {
        "time": None,
        "level": "WARNING",
        "logger": "chat",
        "message": "rejected x",
        "client": "127.0.0.1:5000",
    }


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
async def test_a_redis_outage_loses_no_message_and_delivery_resumes_by_itself(
    user, admin_user, settings, tmp_path
):
    port = free_port()
    process = await asyncio.to_thread(start_redis_server, port, tmp_path / "1.log")
    settings.CHANNEL_LAYERS = layer_config("redis", f"redis://127.0.0.1:{port}/0")
    channel_layers.backends.clear()
    (ana, _), (support, _) = await open_chat(user), await open_chat(admin_user)
    try:
        await ana.send_json_to({"type": "send", "text": "antes", "client_id": "b"})
        assert (await ana.receive_json_from(timeout=5))["client_id"] == "b"
        assert (await support.receive_json_from(timeout=5))["client_id"] == "b"

        process.terminate()
        await asyncio.to_thread(process.wait, 10)
        await ana.send_json_to({"type": "send", "text": "durante", "client_id": "d"})
        during = await ana.receive_json_from(timeout=10)
        assert during["type"] == "message" and during["client_id"] == "d"
        assert await database_sync_to_async(
            Message.objects.filter(id=during["id"]).exists
        )()
        # Both sockets are in this process: their delivery never needed Redis.
        assert (await support.receive_json_from(timeout=5))["client_id"] == "d"

        process = await asyncio.to_thread(start_redis_server, port, tmp_path / "2.log")
        # The sockets rejoin their groups by themselves (back-off up to 2 s).
        deadline = time.monotonic() + 15
        while True:
            await ana.send_json_to(
                {"type": "send", "text": "después", "client_id": "a"}
            )
            echo = await ana.receive_json_from(timeout=10)
            assert echo["type"] == "message"
            # receive_nothing, not a receive timeout: a communicator that
            # times out cancels the application.
            if not await support.receive_nothing(timeout=2):
                seen = await support.receive_json_from(timeout=10)
                break
            assert time.monotonic() < deadline, "live delivery did not resume"
        assert seen["text"] == "después"

        await support.send_json_to({"type": "resume", "after": 0})
        replay = []
        while (frame := await support.receive_json_from(timeout=5))[
            "type"
        ] != "resumed":
            replay.append(frame["client_id"])
        assert "d" in replay and replay[:2] == ["b", "d"]
    finally:
        await ana.disconnect()
        await support.disconnect()
        process.terminate()
        await asyncio.to_thread(process.wait, 10)
        channel_layers.backends.clear()


def test_a_lost_database_answers_503_and_the_next_request_recovers(
    client, user, monkeypatch
):
    from django.db import OperationalError

    from accounts import tokens

    client.cookies["token"] = token_for(user)
    real_verify = tokens.verify

    def database_gone(raw):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(tokens, "verify", database_gone)
    response = client.get("/api/me")
    assert response.status_code == 503
    assert response.json()["error"] == "unavailable"
    assert response["Retry-After"] == "5"
    monkeypatch.setattr(tokens, "verify", real_verify)
    assert client.get("/api/me").status_code == 200
