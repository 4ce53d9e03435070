"""Issue 13 fixes on the register page, through the Django test client."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

MINIMUM_LENGTH_RULE = "Your password must contain at least 10 characters."


def test_a_taken_username_and_a_short_password_are_both_reported(make_user):
    make_user("marta")

    response = Client().post(
        "/register", {"username": "Marta", "name": "", "password": "corta"}
    )

    page = response.content.decode()
    assert response.status_code == 400
    assert "That username is taken." in page
    assert "This password is too short." in page


def test_password_errors_do_not_repeat_the_rules_printed_below_them(db):
    response = Client().post(
        "/register", {"username": "nuevo", "name": "", "password": "corta"}
    )

    page = response.content.decode()
    assert "This password is too short." in page
    assert MINIMUM_LENGTH_RULE in page
    assert page.count("at least 10 characters") == 1


def test_the_rules_are_shown_before_any_error(db):
    page = Client().get("/register").content.decode()

    assert MINIMUM_LENGTH_RULE in page


def test_signed_in_people_are_sent_from_register_to_support(user, client_for):
    response = client_for(user).get("/register")

    assert response.status_code == 302
    assert response["Location"] == "/support"
