"""Answers that depend on who is signed in carry ``Cache-Control: private,
no-store`` (PROTOCOL.md 2): every API answer, errors included, and the pages
of a signed-in visitor, so no shared cache keeps one person's answer for
another."""

import pytest
from django.test import AsyncClient, Client
from django.utils.cache import get_max_age

from tests.conftest import PASSWORD, token_for
from tests.integration.http_helpers import (
    client_with_token,
    csrf_client,
    login,
    post_json,
)

# The history views read on the database thread's own connection: the test's
# rows must be committed to be seen.
pytestmark = pytest.mark.django_db(transaction=True)


def assert_private_no_store(response, status: int) -> None:
    assert response.status_code == status, response.content
    directives = {d.strip() for d in response.get("Cache-Control", "").split(",")}
    assert {"private", "no-store"} <= directives, response.get("Cache-Control")
    assert "public" not in directives
    assert not get_max_age(response)


def signed_in(user) -> Client:
    """A CSRF-enforcing client holding ``user``'s token and a csrftoken."""
    client = csrf_client()
    client.cookies["token"] = token_for(user)
    return client


# Sign-in, sign-up, session ------------------------------------------------------


def test_the_csrf_endpoint(db):
    assert_private_no_store(Client().get("/api/auth/csrf"), 204)


def test_a_successful_login(user):
    assert_private_no_store(login(csrf_client(), "ana", PASSWORD), 200)


def test_a_failed_login(user):
    assert_private_no_store(login(csrf_client(), "ana", "wrong"), 401)


def test_a_login_without_fields(db):
    assert_private_no_store(post_json(csrf_client(), "/api/auth/login", {}), 400)


def test_a_locked_out_login(user):
    client = csrf_client()
    for _ in range(5):
        login(client, "ana", "wrong")

    assert_private_no_store(login(client, "ana", "wrong"), 429)


def test_a_login_without_csrf(user):
    response = Client(enforce_csrf_checks=True).post(
        "/api/auth/login", {}, content_type="application/json"
    )

    assert_private_no_store(response, 403)


def test_a_registration(db):
    body = {"username": "marta", "password": "a long and unusual passphrase 42"}

    assert_private_no_store(post_json(csrf_client(), "/api/auth/register", body), 201)


def test_a_refused_registration(user):
    body = {"username": "ANA", "password": "a long and unusual passphrase 42"}

    assert_private_no_store(post_json(csrf_client(), "/api/auth/register", body), 400)


def test_a_refresh(user):
    assert_private_no_store(post_json(signed_in(user), "/api/auth/refresh"), 200)


def test_a_refresh_without_a_token(db):
    assert_private_no_store(post_json(csrf_client(), "/api/auth/refresh"), 401)


@pytest.mark.parametrize("path", ["/api/auth/logout", "/api/auth/logout-all"])
def test_a_logout(user, path):
    assert_private_no_store(post_json(signed_in(user), path), 204)


def test_me(user):
    assert_private_no_store(client_with_token(token_for(user)).get("/api/me"), 200)


def test_me_without_a_token(db):
    assert_private_no_store(Client().get("/api/me"), 401)


def test_me_with_a_bad_token(db):
    assert_private_no_store(client_with_token("garbage").get("/api/me"), 403)


def test_me_with_a_wrong_method(user):
    assert_private_no_store(client_with_token(token_for(user)).post("/api/me"), 405)


# History and inbox --------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/messages/mine", 200),
        ("/api/messages/mine?limit=0", 400),
        ("/api/messages?with=ana", 403),
        ("/api/conversations", 403),
    ],
)
def test_the_history_and_inbox_as_a_user(user, path, status):
    assert_private_no_store(client_with_token(token_for(user)).get(path), status)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/messages?with=ana", 200),
        ("/api/messages?with=nobody", 404),
        ("/api/messages", 400),
        ("/api/conversations", 200),
        ("/api/conversations?limit=²", 400),
    ],
)
def test_the_history_and_inbox_as_an_admin(user, admin_user, path, status):
    client = client_with_token(token_for(admin_user))

    assert_private_no_store(client.get(path), status)


@pytest.mark.parametrize(
    "path", ["/api/messages/mine", "/api/messages?with=ana", "/api/conversations"]
)
def test_the_history_and_inbox_without_a_token(db, path):
    assert_private_no_store(Client().get(path), 401)


async def test_the_history_through_the_async_chain(user):
    """As under ASGI: the middleware's hook runs on the event loop."""
    client = AsyncClient()
    client.cookies["token"] = token_for(user)

    assert_private_no_store(await client.get("/api/messages/mine"), 200)


def test_an_unknown_api_path(db):
    assert_private_no_store(Client().get("/api/nothing-here"), 404)


# Pages -------------------------------------------------------------------------


def test_the_support_page_of_a_signed_in_visitor(user):
    assert_private_no_store(client_with_token(token_for(user)).get("/support"), 200)


def test_the_support_page_redirect_of_an_anonymous_visitor(db):
    assert_private_no_store(Client().get("/support"), 302)


def test_the_login_page_of_a_signed_in_visitor(user):
    assert_private_no_store(client_with_token(token_for(user)).get("/login"), 302)


def test_an_answer_that_ignores_the_visitor_is_left_alone(db):
    response = Client().get("/healthz")

    assert "no-store" not in response.get("Cache-Control", "")
