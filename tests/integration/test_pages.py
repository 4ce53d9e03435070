"""The HTML pages: redirects to sign in, the form sign-in and sign-out, the admin."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from accounts import tokens
from accounts.models import Role
from tests.conftest import PASSWORD, token_for
from tests.integration.http_helpers import client_with_token, csrf_client

CHANGELIST = "/admin/accounts/user/"


def redirect_target(response) -> tuple[str, dict]:
    """The path and the query of a redirect's Location."""
    assert response.status_code == 302, response.status_code
    location = urlsplit(response["Location"])
    return location.path, parse_qs(location.query)


def form_csrf_token(page: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert match, "the form carries no CSRF token"
    return match.group(1)


@pytest.fixture
def staff_admin(make_user):
    """A support admin who may also use the Django admin."""
    return make_user(
        "jefa", role=Role.ADMIN, name="Jefa", is_staff=True, is_superuser=True
    )


# Redirects to the sign-in page ---------------------------------------------------


def test_an_anonymous_visitor_of_support_is_sent_to_login_with_next(db, client):
    response = client.get("/support")

    assert redirect_target(response) == ("/login", {"next": ["/support"]})


def test_a_visitor_with_a_bad_token_is_sent_to_login_too(db):
    response = client_with_token("garbage").get("/support")

    assert redirect_target(response) == ("/login", {"next": ["/support"]})


def test_a_signed_in_user_gets_the_support_page(client_for, user):
    response = client_for(user).get("/support")

    assert response.status_code == 200


def test_an_anonymous_visitor_of_the_admin_ends_on_login_with_next(db, client):
    response = client.get("/admin/", follow=True)

    final = urlsplit(response.redirect_chain[-1][0])
    assert response.status_code == 200
    assert final.path == "/login"
    assert parse_qs(final.query) == {"next": ["/admin/"]}
    assert '<form method="post" action="/login"' in response.content.decode()


def test_an_anonymous_visitor_of_an_admin_page_comes_back_to_it(db, client):
    response = client.get(CHANGELIST, follow=True)

    final = urlsplit(response.redirect_chain[-1][0])
    assert final.path == "/login"
    assert parse_qs(final.query) == {"next": [CHANGELIST]}


def test_a_signed_in_user_without_staff_access_is_refused_the_admin(client_for, user):
    response = client_for(user).get("/admin/", follow=True)

    assert response.status_code == 403


def test_a_support_admin_without_staff_access_is_refused_the_admin(
    client_for, admin_user
):
    response = client_for(admin_user).get(CHANGELIST, follow=True)

    assert response.status_code == 403


# The Django admin behind the token cookie -----------------------------------------


def test_a_staff_admin_signed_in_by_cookie_sees_the_user_list(
    client_for, staff_admin, user, admin_user
):
    response = client_for(staff_admin).get(CHANGELIST)

    assert response.status_code == 200
    listed = {u.username for u in response.context["cl"].result_list}
    assert listed == {"ana", "jefa", "soporte"}


def test_the_admin_user_list_filters_by_role(client_for, staff_admin, user, admin_user):
    response = client_for(staff_admin).get(CHANGELIST, {"role__exact": "admin"})

    assert response.status_code == 200
    listed = {u.username for u in response.context["cl"].result_list}
    assert listed == {"jefa", "soporte"}
    assert "By role" in response.content.decode()


def test_the_admin_login_url_sends_a_staff_admin_to_the_index(client_for, staff_admin):
    response = client_for(staff_admin).get("/admin/login/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def run_action(client, action: str, *users):
    return client.post(
        CHANGELIST,
        {
            "action": action,
            "_selected_action": [u.pk for u in users],
            "index": "0",
            "select_across": "0",
        },
    )


def test_the_deactivate_action_refuses_the_users_tokens(
    client_for, staff_admin, user, admin_user, make_user
):
    bystander = make_user("luis")
    ana_token, soporte_token = token_for(user), token_for(admin_user)

    response = run_action(client_for(staff_admin), "deactivate", user, admin_user)

    assert response.status_code == 302
    for token in (ana_token, soporte_token):
        assert client_with_token(token).get("/api/me").status_code == 403
    user.refresh_from_db()
    assert not user.is_active
    assert client_for(bystander).get("/api/me").status_code == 200


def test_the_sign_out_everywhere_action_refuses_older_tokens(
    client_for, staff_admin, user, make_user
):
    bystander = make_user("luis")
    phone, laptop = token_for(user), token_for(user)

    response = run_action(client_for(staff_admin), "sign_out_everywhere", user)

    assert response.status_code == 302
    for token in (phone, laptop):
        assert client_with_token(token).get("/api/me").status_code == 403
    user.refresh_from_db()
    assert user.is_active
    assert client_for(bystander).get("/api/me").status_code == 200


def test_a_user_signed_out_everywhere_can_sign_in_again(client_for, staff_admin, user):
    run_action(client_for(staff_admin), "sign_out_everywhere", user)

    assert client_for(user).get("/api/me").status_code == 200


def test_changing_a_role_in_the_admin_form_refuses_older_tokens(
    client_for, staff_admin, user
):
    token = token_for(user)
    client = client_for(staff_admin)
    page = client.get(f"{CHANGELIST}{user.pk}/change/")
    form = page.context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if value is not None and not isinstance(value, list | tuple)
    }
    data.update(
        {
            "role": "admin",
            "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        }
    )

    response = client.post(f"{CHANGELIST}{user.pk}/change/", data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    user.refresh_from_db()
    assert user.role == Role.ADMIN
    assert client_with_token(token).get("/api/me").status_code == 403


# Sign-in and sign-out without JavaScript ------------------------------------------


def post_login_form(client, **fields):
    page = client.get("/login", {"next": fields.get("next", "")})
    assert page.status_code == 200
    data = {"csrfmiddlewaretoken": form_csrf_token(page.content.decode()), **fields}
    return client.post("/login", data)


def test_the_login_form_signs_in_and_redirects_to_next(user):
    client = csrf_client()

    response = post_login_form(
        client, username="ana", password=PASSWORD, next="/api/messages/mine"
    )

    assert response.status_code == 302
    assert response["Location"] == "/api/messages/mine"
    cookie = response.cookies[tokens.COOKIE_NAME]
    assert tokens.verify(cookie.value).user.username == "ana"
    assert cookie["httponly"] is True
    assert client.get("/support").status_code == 200


def test_the_login_form_without_next_goes_to_support(user):
    response = post_login_form(csrf_client(), username="ana", password=PASSWORD)

    assert response["Location"] == "/support"


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example/", "//evil.example/", "https:/evil.example", "\\\\evil"],
)
def test_the_login_form_refuses_an_off_site_next(user, next_url):
    response = post_login_form(
        csrf_client(), username="ana", password=PASSWORD, next=next_url
    )

    assert response.status_code == 302
    assert response["Location"] == "/support"


def test_the_login_page_keeps_next_in_the_form(db):
    page = csrf_client().get("/login", {"next": "/support"}).content.decode()

    assert 'name="next" value="/support"' in page


def test_the_login_form_with_a_wrong_password_shows_the_error(user):
    response = post_login_form(csrf_client(), username="ana", password="wrong!")

    assert response.status_code == 401
    page = response.content.decode()
    assert "Wrong username or password." in page
    assert tokens.COOKIE_NAME not in response.cookies


def test_the_login_form_without_its_csrf_token_is_refused(user):
    response = csrf_client().post("/login", {"username": "ana", "password": PASSWORD})

    assert response.status_code == 403
    assert tokens.COOKIE_NAME not in response.cookies


def test_the_login_page_sends_a_signed_in_user_on_to_next(client_for, user):
    response = client_for(user).get("/login", {"next": "/support"})

    assert response.status_code == 302
    assert response["Location"] == "/support"


def signed_in_form_client(user):
    client = csrf_client()
    response = post_login_form(client, username=user.username, password=PASSWORD)
    assert response.status_code == 302
    return client, response.cookies[tokens.COOKIE_NAME].value


def test_logout_form_post_revokes_the_token_and_clears_the_cookie(user):
    client, token = signed_in_form_client(user)
    csrf = client.cookies["csrftoken"].value

    response = client.post("/logout", {"csrfmiddlewaretoken": csrf})

    assert response.status_code == 302
    assert response["Location"] == "/login"
    morsel = response.cookies[tokens.COOKIE_NAME]
    assert morsel.value == ""
    assert int(morsel["max-age"]) == 0
    assert client_with_token(token).get("/api/me").status_code == 403


def test_logout_by_get_is_not_allowed(user):
    client, token = signed_in_form_client(user)

    assert client.get("/logout").status_code == 405
    assert client_with_token(token).get("/api/me").status_code == 200


def test_logout_form_without_its_csrf_token_is_refused(user):
    client, token = signed_in_form_client(user)

    assert client.post("/logout").status_code == 403
    assert client_with_token(token).get("/api/me").status_code == 200
