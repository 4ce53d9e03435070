"""Small helpers for the HTTP auth tests: JSON posts with CSRF, error bodies."""

import json

from django.test import Client

from accounts import tokens


def csrf_client(**defaults) -> Client:
    """A client that enforces CSRF like a browser, holding a fresh ``csrftoken``."""
    client = Client(enforce_csrf_checks=True, **defaults)
    response = client.get("/api/auth/csrf")
    assert response.status_code == 204
    return client


def post_json(client: Client, path: str, body: dict | None = None, **extra):
    """POST a JSON body, echoing the client's ``csrftoken`` cookie in X-CSRFToken."""
    if "csrftoken" in client.cookies:
        extra.setdefault("HTTP_X_CSRFTOKEN", client.cookies["csrftoken"].value)
    return client.post(
        path, json.dumps(body or {}), content_type="application/json", **extra
    )


def login(client: Client, username: str, password: str, **extra):
    """Sign in through the JSON API."""
    return post_json(
        client, "/api/auth/login", {"username": username, "password": password}, **extra
    )


def assert_error(response, status: int, code: str) -> dict:
    """The response is the protocol's error body for ``code`` with ``status``."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"] == code, body
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body


def client_with_token(token: str) -> Client:
    """A plain client carrying ``token`` in its cookie jar."""
    client = Client()
    client.cookies[tokens.COOKIE_NAME] = token
    return client


def token_cookie(response) -> str:
    """The token cookie value a response sets (empty when it clears it)."""
    return response.cookies[tokens.COOKIE_NAME].value
