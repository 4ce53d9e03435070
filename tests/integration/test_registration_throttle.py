"""Sign-ups are throttled per client address (``REGISTRATIONS_PER_HOUR``).

Each attempt tells whether a name is taken, so failed attempts count too.
Counted in this process on the in-memory layer, in Redis otherwise.
"""

import pytest
from django.test import Client

from accounts.models import User
from chat.limits import LocalRates, limits
from tests.integration.http_helpers import assert_error, post_json

PER_HOUR = 3
GOOD_PASSWORD = "a long and unusual passphrase 42"


@pytest.fixture(autouse=True)
def throttle(settings, channel_layer_settings, monkeypatch):
    """A small hourly limit, on a fresh limiter of the layer under test."""
    settings.REGISTRATIONS_PER_HOUR = PER_HOUR
    monkeypatch.setattr(limits, "local_rates", LocalRates())


def client_at(address: str) -> Client:
    return Client(REMOTE_ADDR=address)


def register(client: Client, username: str):
    body = {"username": username, "name": username, "password": GOOD_PASSWORD}
    return post_json(client, "/api/auth/register", body)


def test_a_sign_up_over_the_hourly_limit_answers_429_with_retry_after(db):
    client = client_at("10.20.0.1")
    for i in range(PER_HOUR):
        assert register(client, f"persona{i}").status_code == 201

    refused = register(client, "una_mas")

    assert_error(refused, 429, "too_many_attempts")
    assert refused["Retry-After"].isdigit() and int(refused["Retry-After"]) > 0
    assert not User.objects.filter(username="una_mas").exists()


def test_attempts_with_a_taken_name_count_towards_the_limit(db, make_user):
    make_user("ocupado")
    client = client_at("10.20.0.2")
    for _ in range(PER_HOUR):
        assert register(client, "ocupado").status_code == 400

    assert_error(register(client, "libre"), 429, "too_many_attempts")


def test_the_limit_of_one_address_leaves_another_address_free(db):
    exhausted = client_at("10.20.0.3")
    for i in range(PER_HOUR):
        register(exhausted, f"vecino{i}")
    assert register(exhausted, "vecino_extra").status_code == 429

    assert register(client_at("10.20.0.4"), "otra_casa").status_code == 201


def test_the_html_register_page_answers_429_over_the_limit(db):
    client = client_at("10.20.0.5")
    for i in range(PER_HOUR):
        form = {"username": f"pagina{i}", "name": "P", "password": GOOD_PASSWORD}
        assert client.post("/register", form).status_code == 302

    refused = client.post(
        "/register", {"username": "pagina_extra", "password": GOOD_PASSWORD}
    )

    assert refused.status_code == 429
    assert refused["Content-Type"].startswith("text/html")
    assert refused["Retry-After"].isdigit()
    assert not User.objects.filter(username="pagina_extra").exists()
