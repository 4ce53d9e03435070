"""Sign-up through the JSON API and through the HTML form (which needs no JS)."""

import re

import pytest

from accounts import tokens
from accounts.models import Role, User
from tests.integration.http_helpers import assert_error, csrf_client, post_json

GOOD_PASSWORD = "a long and unusual passphrase 42"


def register(client, **body):
    return post_json(client, "/api/auth/register", body)


def field_errors(response) -> dict:
    body = assert_error(response, 400, "invalid")
    return body["fields"]


# JSON API -----------------------------------------------------------------------


def test_registration_answers_201_with_the_session_body_and_a_cookie(db):
    response = register(
        csrf_client(), username="marta", name="Marta Ruiz", password=GOOD_PASSWORD
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"user", "name", "rol", "expires_at"}
    assert (body["user"], body["name"], body["rol"]) == ("marta", "Marta Ruiz", "user")
    cookie = response.cookies[tokens.COOKIE_NAME]
    assert tokens.verify(cookie.value).user.username == "marta"
    assert cookie["httponly"] is True


def test_a_role_in_the_registration_body_is_ignored(db):
    response = register(
        csrf_client(),
        username="sneaky",
        name="Sneaky",
        password=GOOD_PASSWORD,
        role="admin",
        rol="admin",
        is_staff=True,
        is_superuser=True,
    )

    assert response.status_code == 201, response.content
    assert response.json()["rol"] == "user"
    created = User.objects.get(username="sneaky")
    assert created.role == Role.USER
    assert not created.is_staff
    assert not created.is_superuser


def test_a_registered_user_can_sign_in_with_the_password(db):
    client = csrf_client()
    register(client, username="marta", name="Marta", password=GOOD_PASSWORD)

    assert User.objects.get(username="marta").check_password(GOOD_PASSWORD)
    assert client.get("/api/me").json()["user"] == "marta"


def test_registration_is_csrf_protected(db):
    client = csrf_client()

    response = client.post(
        "/api/auth/register",
        {"username": "marta", "password": GOOD_PASSWORD},
        content_type="application/json",
    )

    assert_error(response, 403, "csrf_failed")
    assert not User.objects.filter(username="marta").exists()


@pytest.mark.parametrize("taken", ["ana", "ANA", "Ana"])
def test_a_taken_username_is_a_field_error_whatever_its_case(user, taken):
    response = register(csrf_client(), username=taken, password=GOOD_PASSWORD)

    assert "username" in field_errors(response)
    assert User.objects.filter(username__iexact="ana").count() == 1


@pytest.mark.parametrize(
    "password", ["short", "12345678901234", "password1234", "marta.ruiz.2024"]
)
def test_a_weak_password_is_a_field_error(db, password):
    response = register(
        csrf_client(), username="marta.ruiz.2024", name="Marta", password=password
    )

    fields = field_errors(response)
    assert list(fields) == ["password"]
    assert not User.objects.filter(username="marta.ruiz.2024").exists()


@pytest.mark.parametrize("username", ["ana maria", "ana!", "<script>", "a/b"])
def test_a_username_with_bad_characters_is_a_field_error(db, username):
    response = register(csrf_client(), username=username, password=GOOD_PASSWORD)

    assert "username" in field_errors(response)
    assert not User.objects.filter(username=username).exists()


def test_a_username_with_the_allowed_punctuation_is_accepted(db):
    response = register(
        csrf_client(), username="ana.maria+test@example.com", password=GOOD_PASSWORD
    )

    assert response.status_code == 201, response.content


def test_missing_fields_are_field_errors(db):
    fields = field_errors(register(csrf_client()))

    assert {"username", "password"} <= set(fields)
    assert all(isinstance(m, str) for msgs in fields.values() for m in msgs)


def test_a_registration_body_that_is_not_json_is_400_bad_json(db):
    client = csrf_client()
    response = client.post(
        "/api/auth/register",
        "[1, 2",
        content_type="application/json",
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
    )

    assert_error(response, 400, "bad_json")


# HTML form ----------------------------------------------------------------------


def form_csrf_token(page: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert match, "the form carries no CSRF token"
    return match.group(1)


def post_register_form(client, **fields):
    page = client.get("/register")
    assert page.status_code == 200
    data = {"csrfmiddlewaretoken": form_csrf_token(page.content.decode()), **fields}
    return client.post("/register", data)


def test_the_register_page_shows_the_form(db):
    page = csrf_client().get("/register").content.decode()

    assert '<form method="post" action="/register"' in page
    for name in ("username", "name", "password"):
        assert f'name="{name}"' in page


def test_the_register_form_creates_the_account_and_signs_in(db):
    client = csrf_client()

    response = post_register_form(
        client, username="marta", name="Marta Ruiz", password=GOOD_PASSWORD
    )

    assert response.status_code == 302
    assert response["Location"] == "/support"
    assert tokens.verify(response.cookies[tokens.COOKIE_NAME].value).user.name == (
        "Marta Ruiz"
    )
    assert client.get("/support").status_code == 200


def test_the_register_form_ignores_a_posted_role(db):
    post_register_form(
        csrf_client(), username="marta", password=GOOD_PASSWORD, role="admin"
    )

    assert User.objects.get(username="marta").role == Role.USER


def test_the_register_form_without_its_csrf_token_is_refused(db):
    client = csrf_client()

    response = client.post(
        "/register", {"username": "marta", "password": GOOD_PASSWORD}
    )

    assert response.status_code == 403
    assert not User.objects.filter(username="marta").exists()


def errors_under(page: str, field: str) -> str:
    """The error list the form renders right under ``field``'s input."""
    match = re.search(rf'id="id_{field}-errors">(.*?)</ul>', page, re.S)
    assert match, f"no errors shown next to {field}"
    return match.group(1)


def test_the_register_form_shows_a_username_error_next_to_the_username(user):
    response = post_register_form(csrf_client(), username="ANA", password=GOOD_PASSWORD)

    assert response.status_code == 400
    page = response.content.decode()
    assert "That username is taken." in errors_under(page, "username")
    assert 'value="ANA"' in page
    assert tokens.COOKIE_NAME not in response.cookies


def test_the_register_form_shows_a_password_error_next_to_the_password(db):
    response = post_register_form(csrf_client(), username="marta", password="short")

    assert response.status_code == 400
    page = response.content.decode()
    assert "too short" in errors_under(page, "password")
    assert 'id="id_username-errors"' not in page
    assert not User.objects.filter(username="marta").exists()
