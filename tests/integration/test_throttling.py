"""Failed sign-ins are throttled with django-axes, per address and per username.

Settings under test: AXES_FAILURE_LIMIT 5, AXES_COOLOFF_TIME 900 s, lockout
parameters ip_address and username, each on its own.
"""

import json
import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import F
from django.test import AsyncClient, Client

from tests.conftest import PASSWORD
from tests.integration.http_helpers import assert_error, login

LIMIT = 5
WRONG = "not the password"


def client_at(address: str) -> Client:
    return Client(REMOTE_ADDR=address)


def fail(times: int, *, username: str = "ana", address: str = "10.0.0.1") -> None:
    """Fail to sign in ``times`` times; every answer is 401 or the 429 of a lockout."""
    client = client_at(address)
    for _ in range(times):
        assert login(client, username, WRONG).status_code in (401, 429)


def assert_locked(response) -> None:
    assert_error(response, 429, "too_many_attempts")
    retry_after = response["Retry-After"]
    assert retry_after.isdigit(), retry_after
    assert 0 < int(retry_after) <= settings.AXES_COOLOFF_TIME.total_seconds()


def age_attempts(seconds: float) -> None:
    """Move every recorded failure ``seconds`` into the past."""
    AccessAttempt.objects.update(
        attempt_time=F("attempt_time") - timedelta(seconds=seconds)
    )


def test_the_settings_are_the_documented_ones():
    assert settings.AXES_FAILURE_LIMIT == LIMIT
    assert settings.AXES_COOLOFF_TIME.total_seconds() == 900
    assert settings.AXES_LOCKOUT_PARAMETERS == ["ip_address", "username"]


def test_failures_under_the_limit_answer_401(user):
    client = client_at("10.0.0.1")

    statuses = [login(client, "ana", WRONG).status_code for _ in range(LIMIT - 1)]

    assert statuses == [401] * (LIMIT - 1)


def test_the_failure_that_reaches_the_limit_already_answers_429(user):
    fail(LIMIT - 1)

    assert_locked(login(client_at("10.0.0.1"), "ana", WRONG))


def test_after_five_failures_the_next_attempt_is_429_with_retry_after(user):
    fail(LIMIT)

    response = login(client_at("10.0.0.1"), "ana", WRONG)

    assert_locked(response)
    assert set(response.json()) == {"error", "detail"}


def test_a_correct_password_is_refused_while_locked(user):
    fail(LIMIT)

    response = login(client_at("10.0.0.1"), "ana", PASSWORD)

    assert_locked(response)
    assert "token" not in response.cookies


def test_the_username_lock_holds_from_another_address(user):
    for n in range(LIMIT):
        fail(1, username="ana", address=f"10.0.1.{n}")

    response = login(client_at("10.0.2.99"), "ana", PASSWORD)

    assert_locked(response)


def test_the_username_lock_does_not_lock_other_users_at_that_address(user, make_user):
    make_user("luis")
    for n in range(LIMIT):
        fail(1, username="ana", address=f"10.0.1.{n}")

    response = login(client_at("10.0.1.0"), "luis", PASSWORD)

    assert response.status_code == 200, response.content


def test_the_address_lock_holds_across_usernames(user):
    for n in range(LIMIT):
        fail(1, username=f"guess{n}", address="10.0.3.3")

    response = login(client_at("10.0.3.3"), "ana", PASSWORD)

    assert_locked(response)


def test_the_address_lock_does_not_lock_that_user_elsewhere(user):
    for n in range(LIMIT):
        fail(1, username=f"guess{n}", address="10.0.3.3")

    response = login(client_at("10.0.4.4"), "ana", PASSWORD)

    assert response.status_code == 200, response.content


def test_the_lock_still_holds_just_before_the_window_ends(user):
    fail(LIMIT)
    age_attempts(settings.AXES_COOLOFF_TIME.total_seconds() - 30)

    assert_locked(login(client_at("10.0.0.1"), "ana", PASSWORD))


def test_the_lock_ends_after_the_window(user):
    fail(LIMIT)
    age_attempts(settings.AXES_COOLOFF_TIME.total_seconds() + 1)

    response = login(client_at("10.0.0.1"), "ana", PASSWORD)

    assert response.status_code == 200, response.content


def test_the_lock_ends_in_real_time_after_a_short_window(user, settings):
    settings.AXES_COOLOFF_TIME = timedelta(seconds=1)
    fail(LIMIT)
    assert_locked(login(client_at("10.0.0.1"), "ana", PASSWORD))

    time.sleep(1.2)

    assert login(client_at("10.0.0.1"), "ana", PASSWORD).status_code == 200


def test_the_login_page_answers_429_while_locked(user):
    fail(LIMIT)

    response = client_at("10.0.0.1").post(
        "/login", {"username": "ana", "password": PASSWORD, "next": "/support"}
    )

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "token" not in response.cookies
    page = response.content.decode()
    assert "Too many failed sign-in attempts" in page
    assert '<form method="post" action="/login"' in page
    assert 'name="next" value="/support"' in page


def test_failures_on_the_login_page_count_towards_the_api_lock(user):
    client = client_at("10.0.0.1")
    for _ in range(LIMIT):
        client.post("/login", {"username": "ana", "password": WRONG})

    assert_locked(login(client, "ana", PASSWORD))


def test_signing_in_to_another_account_does_not_clear_failures_at_a_username(
    user, make_user
):
    make_user("mallory")
    attacker = client_at("10.0.5.5")
    fail(LIMIT - 1, username="ana", address="10.0.5.5")

    assert login(attacker, "mallory", PASSWORD).status_code == 200

    assert_locked(login(attacker, "ana", WRONG))


def test_a_correct_password_forgives_that_clients_earlier_failures(user):
    client = client_at("10.0.0.1")
    fail(LIMIT - 1)
    assert login(client, "ana", PASSWORD).status_code == 200

    statuses = [login(client, "ana", WRONG).status_code for _ in range(LIMIT - 1)]

    assert statuses == [401] * (LIMIT - 1)


@pytest.mark.django_db(transaction=True)
async def test_the_lockout_answer_is_the_same_through_the_asgi_handler(make_user):
    await sync_to_async(make_user)("ana")
    client = AsyncClient(REMOTE_ADDR="10.0.6.6")
    body = json.dumps({"username": "ana", "password": WRONG})
    for _ in range(LIMIT):
        await client.post("/api/auth/login", body, content_type="application/json")

    response = await client.post(
        "/api/auth/login",
        json.dumps({"username": "ana", "password": PASSWORD}),
        content_type="application/json",
    )

    assert_locked(response)
