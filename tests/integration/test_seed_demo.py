"""The demo accounts: created once with generated passwords, and new passwords
on request once the first run's output is gone."""

import re
from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import Role, User

pytestmark = pytest.mark.django_db

SHOWN = re.compile(r"username: (\S+)\s+password: (\S+)")


def seed_demo(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def shown_passwords(output: str) -> dict[str, str]:
    return dict(SHOWN.findall(output))


def signs_in(username: str, password: str) -> bool:
    return User.objects.get(username=username).check_password(password)


def test_the_first_run_creates_the_demo_accounts_and_shows_passwords_that_work():
    passwords = shown_passwords(seed_demo())

    assert set(passwords) == {"admin", "ana", "luis"}
    assert all(signs_in(name, password) for name, password in passwords.items())
    assert User.objects.get(username="admin").role == Role.ADMIN


def test_a_later_run_shows_no_password_and_says_how_to_get_new_ones():
    seed_demo()

    output = seed_demo()

    assert shown_passwords(output) == {}
    assert "make demo-accounts" in output


def test_reset_passwords_shows_new_passwords_that_work_and_the_old_ones_stop():
    old = shown_passwords(seed_demo())

    new = shown_passwords(seed_demo("--reset-passwords"))

    assert set(new) == {"admin", "ana", "luis"}
    for name in new:
        assert new[name] != old[name]
        assert signs_in(name, new[name])
        assert not signs_in(name, old[name])
    assert User.objects.count() == 3
    assert User.objects.get(username="admin").role == Role.ADMIN


def test_reset_passwords_on_a_fresh_database_creates_the_accounts():
    assert set(shown_passwords(seed_demo("--reset-passwords"))) == {
        "admin",
        "ana",
        "luis",
    }


def test_the_first_run_gives_the_team_canned_replies_once():
    from chat.models import CannedReply

    seed_demo()
    first = set(CannedReply.objects.values_list("shortcut", flat=True))
    seed_demo()
    seed_demo("--reset-passwords")

    assert "hello" in first and "hola" in first
    assert all(
        "{name}" in text for text in CannedReply.objects.values_list("text", flat=True)
    )
    assert CannedReply.objects.count() == len(first)
