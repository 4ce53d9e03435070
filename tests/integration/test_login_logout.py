"""The JSON API's sign-in, refresh and sign-out, with CSRF as a browser does it."""

from datetime import UTC, datetime

import jwt
import pytest
from django.conf import settings
from django.test import Client

from accounts import tokens
from tests.conftest import PASSWORD, token_for
from tests.integration.http_helpers import (
    assert_error,
    client_with_token,
    csrf_client,
    login,
    post_json,
    token_cookie,
)


def claims_of(token: str) -> dict:
    return jwt.decode(token, settings.JWT_SECRET, algorithms=["HS256"])


def iso_from_exp(exp: int) -> str:
    return datetime.fromtimestamp(exp, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


# CSRF ---------------------------------------------------------------------------


def test_csrf_endpoint_answers_204_and_sets_the_csrftoken_cookie(db):
    response = Client().get("/api/auth/csrf")

    assert response.status_code == 204
    assert response.cookies["csrftoken"].value


def test_login_without_x_csrftoken_is_403_csrf_failed(user):
    client = csrf_client()

    response = client.post(
        "/api/auth/login",
        {"username": "ana", "password": PASSWORD},
        content_type="application/json",
    )

    assert_error(response, 403, "csrf_failed")
    assert tokens.COOKIE_NAME not in response.cookies


def test_login_with_a_wrong_x_csrftoken_is_403_csrf_failed(user):
    client = csrf_client()

    response = login(client, "ana", PASSWORD, HTTP_X_CSRFTOKEN="x" * 32)

    assert_error(response, 403, "csrf_failed")


def test_login_with_the_csrftoken_echoed_is_accepted(user):
    response = login(csrf_client(), "ana", PASSWORD)

    assert response.status_code == 200, response.content


# Login ----------------------------------------------------------------------------


def test_login_answers_who_signed_in_and_until_when(user):
    response = login(csrf_client(), "ana", PASSWORD)

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"user", "name", "rol", "expires_at"}
    assert body["user"] == "ana"
    assert body["name"] == "Ana García"
    assert body["rol"] == "user"
    assert body["expires_at"] == iso_from_exp(claims_of(token_cookie(response))["exp"])


def test_login_sets_the_token_cookie_with_the_protocol_attributes(user):
    response = login(csrf_client(), "ana", PASSWORD)

    morsel = response.cookies[tokens.COOKIE_NAME]
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Lax"
    assert morsel["path"] == "/"
    assert int(morsel["max-age"]) == settings.JWT_LIFETIME_SECONDS
    assert tokens.verify(morsel.value).user.pk == user.pk


def test_the_token_cookie_is_secure_when_the_site_runs_on_https(user, settings):
    settings.JWT_COOKIE_SECURE = True

    response = login(csrf_client(), "ana", PASSWORD)

    assert response.cookies[tokens.COOKIE_NAME]["secure"] is True


def test_the_token_cookie_is_not_secure_in_development(user, settings):
    settings.JWT_COOKIE_SECURE = False

    response = login(csrf_client(), "ana", PASSWORD)

    assert not response.cookies[tokens.COOKIE_NAME]["secure"]


def test_login_cookie_lifetime_follows_the_setting(user, settings):
    settings.JWT_LIFETIME_SECONDS = 120

    response = login(csrf_client(), "ana", PASSWORD)

    assert int(response.cookies[tokens.COOKIE_NAME]["max-age"]) == 120
    claims = claims_of(token_cookie(response))
    assert claims["exp"] - claims["iat"] == pytest.approx(120, abs=1)


def test_a_wrong_password_is_401_invalid_credentials(user):
    response = login(csrf_client(), "ana", "not the password")

    assert_error(response, 401, "invalid_credentials")
    assert tokens.COOKIE_NAME not in response.cookies


def test_an_unknown_username_is_401_invalid_credentials(db):
    response = login(csrf_client(), "nobody", PASSWORD)

    assert_error(response, 401, "invalid_credentials")


def test_a_deactivated_user_cannot_sign_in(user):
    user.is_active = False
    user.save()

    response = login(csrf_client(), "ana", PASSWORD)

    assert_error(response, 401, "invalid_credentials")


def test_login_without_a_password_is_400_with_field_errors(user):
    response = post_json(csrf_client(), "/api/auth/login", {"username": "ana"})

    body = assert_error(response, 400, "invalid")
    assert "password" in body["fields"]


def test_login_with_a_body_that_is_not_json_is_400_bad_json(user):
    client = csrf_client()
    response = client.post(
        "/api/auth/login",
        "username=ana",
        content_type="application/json",
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
    )

    assert_error(response, 400, "bad_json")


def test_the_cookie_from_login_signs_in_the_next_requests(user):
    client = csrf_client()
    login(client, "ana", PASSWORD)

    assert client.get("/api/me").status_code == 200


# /api/me --------------------------------------------------------------------------


def test_me_answers_the_session_body_of_the_token(user):
    token = token_for(user)

    response = client_with_token(token).get("/api/me")

    assert response.status_code == 200
    assert response.json() == {
        "user": "ana",
        "name": "Ana García",
        "rol": "user",
        "expires_at": iso_from_exp(claims_of(token)["exp"]),
    }


def test_me_answers_the_admin_role_for_an_admin(admin_user, client_for):
    assert client_for(admin_user).get("/api/me").json()["rol"] == "admin"


# Logout -----------------------------------------------------------------------------


def signed_in_csrf_client(user) -> tuple[Client, str]:
    client = csrf_client()
    response = login(client, user.username, PASSWORD)
    assert response.status_code == 200, response.content
    return client, token_cookie(response)


def test_logout_answers_204_and_clears_the_cookie(user):
    client, _ = signed_in_csrf_client(user)

    response = post_json(client, "/api/auth/logout")

    assert response.status_code == 204
    morsel = response.cookies[tokens.COOKIE_NAME]
    assert morsel.value == ""
    assert int(morsel["max-age"]) == 0
    assert morsel["path"] == "/"


def test_logout_is_csrf_protected(user):
    client, _ = signed_in_csrf_client(user)

    response = client.post("/api/auth/logout")

    assert_error(response, 403, "csrf_failed")
    assert client.get("/api/me").status_code == 200


def test_a_logged_out_token_is_refused_when_replayed(user):
    client, token = signed_in_csrf_client(user)
    post_json(client, "/api/auth/logout")

    response = client_with_token(token).get("/api/me")

    assert_error(response, 403, "invalid_token")


def test_logout_leaves_the_users_other_sessions_signed_in(user):
    other_session = token_for(user)
    client, _ = signed_in_csrf_client(user)

    post_json(client, "/api/auth/logout")

    assert client_with_token(other_session).get("/api/me").status_code == 200


def test_logout_without_a_token_is_401(db):
    response = post_json(csrf_client(), "/api/auth/logout")

    assert_error(response, 401, "not_authenticated")


def test_logout_all_refuses_every_older_token_of_the_user(user):
    phone, laptop = token_for(user), token_for(user)
    client, current = signed_in_csrf_client(user)

    response = post_json(client, "/api/auth/logout-all")

    assert response.status_code == 204
    assert int(response.cookies[tokens.COOKIE_NAME]["max-age"]) == 0
    for token in (phone, laptop, current):
        assert_error(client_with_token(token).get("/api/me"), 403, "invalid_token")


def test_logout_all_leaves_other_users_signed_in(user, admin_user):
    colleague = token_for(admin_user)
    client, _ = signed_in_csrf_client(user)

    post_json(client, "/api/auth/logout-all")

    assert client_with_token(colleague).get("/api/me").status_code == 200


def test_signing_in_again_after_logout_all_works(user):
    client, _ = signed_in_csrf_client(user)
    post_json(client, "/api/auth/logout-all")

    response = login(client, "ana", PASSWORD)

    assert response.status_code == 200
    assert client.get("/api/me").status_code == 200


# Refresh ----------------------------------------------------------------------------


def test_refresh_answers_200_with_a_new_token_cookie(user):
    client, old = signed_in_csrf_client(user)

    response = post_json(client, "/api/auth/refresh")

    assert response.status_code == 200, response.content
    new = token_cookie(response)
    assert new and new != old
    assert set(response.json()) == {"user", "name", "rol", "expires_at"}
    assert response.json()["expires_at"] == iso_from_exp(claims_of(new)["exp"])
    assert int(response.cookies[tokens.COOKIE_NAME]["max-age"]) == (
        settings.JWT_LIFETIME_SECONDS
    )


def test_refresh_leaves_the_old_token_valid_until_it_expires(user):
    client, old = signed_in_csrf_client(user)

    post_json(client, "/api/auth/refresh")

    assert client_with_token(old).get("/api/me").status_code == 200


def test_refresh_without_a_token_is_401(db):
    assert_error(
        post_json(csrf_client(), "/api/auth/refresh"), 401, "not_authenticated"
    )


def test_refresh_with_a_revoked_token_is_403(user):
    client, token = signed_in_csrf_client(user)
    tokens.revoke(tokens.verify(token))

    assert_error(post_json(client, "/api/auth/refresh"), 403, "invalid_token")
