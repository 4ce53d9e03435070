"""accounts.http_auth: the 401/403 matrix and how the Cookie header is read."""

import time

import jwt
import pytest
from django.conf import settings
from django.test import Client

from tests.conftest import cookie_with_token, token_for
from tests.integration.http_helpers import assert_error, client_with_token

ADMIN_ENDPOINTS = ["/api/conversations", "/api/messages?with=ana"]


def test_no_cookie_is_401_not_authenticated(db):
    response = Client().get("/api/me")

    assert_error(response, 401, "not_authenticated")


def test_an_empty_token_cookie_is_401_not_authenticated(db):
    response = Client().get("/api/me", HTTP_COOKIE="token=")

    assert_error(response, 401, "not_authenticated")


def test_a_garbage_token_is_403_invalid_token(db):
    response = client_with_token("not-a-jwt").get("/api/me")

    assert_error(response, 403, "invalid_token")


def test_a_token_signed_with_another_secret_is_403_invalid_token(user):
    now = int(time.time())
    forged = jwt.encode(
        {"user": "ana", "rol": "admin", "iat": now, "exp": now + 600},
        "another-secret-that-this-site-never-signs-with-" + "z" * 40,
        algorithm="HS256",
    )

    response = client_with_token(forged).get("/api/me")

    assert_error(response, 403, "invalid_token")


def test_error_bodies_hold_exactly_error_and_detail(db):
    body = Client().get("/api/me").json()

    assert set(body) == {"error", "detail"}


# /api/messages reads on the chat's database thread, through a connection of
# its own: the users these tests create must be committed to be seen there.


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ADMIN_ENDPOINTS)
def test_a_user_on_an_admin_endpoint_is_403_admin_only(client_for, user, path):
    response = client_for(user).get(path)

    body = assert_error(response, 403, "admin_only")
    assert set(body) == {"error", "detail"}


@pytest.mark.parametrize("path", ADMIN_ENDPOINTS)
def test_an_admin_endpoint_without_a_cookie_is_401(db, path):
    assert_error(Client().get(path), 401, "not_authenticated")


@pytest.mark.parametrize("path", ADMIN_ENDPOINTS)
def test_an_admin_endpoint_with_a_bad_token_is_403_invalid_token(db, path):
    assert_error(client_with_token("garbage").get(path), 403, "invalid_token")


@pytest.mark.django_db(transaction=True)
def test_an_admin_reaches_the_admin_endpoints(client_for, user, admin_user):
    client = client_for(admin_user)

    assert client.get("/api/conversations").status_code == 200
    assert client.get("/api/messages?with=ana").status_code == 200


def test_a_rol_admin_claim_does_not_open_admin_endpoints_to_a_user(user):
    now = int(time.time())
    claims = {"user": "ana", "name": "Ana", "rol": "admin", "iat": now, "exp": now + 60}
    token = jwt.encode(claims, settings.JWT_SECRET, algorithm="HS256")

    response = client_with_token(token).get("/api/conversations")

    assert_error(response, 403, "admin_only")


# The Cookie header as browsers send it -----------------------------------------


def test_a_token_after_a_csrftoken_cookie_is_read(user):
    header = cookie_with_token(token_for(user), "csrftoken=abc")

    response = Client().get("/api/me", HTTP_COOKIE=header)

    assert response.status_code == 200, response.content
    assert response.json()["user"] == "ana"


def test_csrftoken_cookie_is_not_taken_for_the_token(db):
    response = Client().get("/api/me", HTTP_COOKIE="csrftoken=abc")

    assert_error(response, 401, "not_authenticated")


def test_a_cookie_whose_name_ends_in_token_is_not_the_token(user):
    response = Client().get("/api/me", HTTP_COOKIE=f"xtoken={token_for(user)}")

    assert_error(response, 401, "not_authenticated")


def test_a_malformed_neighbour_cookie_does_not_hide_the_token(user):
    header = cookie_with_token(token_for(user), 'g_state={"i_l":0}')

    response = Client().get("/api/me", HTTP_COOKIE=header)

    assert response.status_code == 200, response.content
    assert response.json()["user"] == "ana"


def test_a_token_before_other_cookies_is_read(user):
    header = f"token={token_for(user)}; csrftoken=abc; theme=dark"

    response = Client().get("/api/me", HTTP_COOKIE=header)

    assert response.status_code == 200, response.content
