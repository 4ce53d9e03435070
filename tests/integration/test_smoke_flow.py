"""The main path end to end through the Django test client and a communicator."""

import json

import pytest

from tests.conftest import PASSWORD
from tests.integration.ws_helpers import communicator_for


def test_login_then_me_answers_who_is_signed_in(client, user):
    client.get("/api/auth/csrf")
    csrf = client.cookies["csrftoken"].value
    response = client.post(
        "/api/auth/login",
        json.dumps({"username": "ana", "password": PASSWORD}),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert response.status_code == 200, response.content
    assert response.json()["user"] == "ana"
    me = client.get("/api/me")
    assert me.status_code == 200
    assert me.json()["rol"] == "user"


@pytest.mark.django_db(transaction=True)
async def test_a_user_message_is_echoed_and_reaches_the_admin(
    user, admin_user, channel_layer_settings
):
    ana, admin = communicator_for(user), communicator_for(admin_user)
    try:
        assert (await ana.connect(timeout=10))[0]
        assert (await admin.connect(timeout=10))[0]
        assert (await ana.receive_json_from(timeout=10))["type"] == "hello"
        assert (await admin.receive_json_from(timeout=10))["type"] == "hello"
        await ana.send_json_to({"type": "send", "text": "hola", "client_id": "c1"})
        echo = await ana.receive_json_from(timeout=5)
        seen = await admin.receive_json_from(timeout=5)
        assert echo == seen
        assert (
            echo["text"] == "hola"
            and echo["client_id"] == "c1"
            and echo["thread"] == "ana"
        )
    finally:
        await ana.disconnect()
        await admin.disconnect()
