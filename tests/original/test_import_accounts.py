"""``manage.py import_original`` end to end (issue 16), the accounts: old
passwords sign in as they did in the original (rehashed on first use, past
72 bytes too), rows without a usable hash or with odd names, usernames our
rules refuse or that collide, accounts deleted here, and which ``rol``
'admin' rows become the team.

Every test runs twice, on a ``mensajes`` with an ``id`` column and on one
without (``original`` fixture); those marked ``postgres`` also on PostgreSQL.
"""

import pytest
from django.contrib.auth.hashers import get_hashers, identify_hasher
from django.core.management.base import CommandError

from accounts.models import Role, User
from chat.models import Message
from tests.integration.http_helpers import assert_error, csrf_client, login
from tests.original.checks import counts, frames, signs_in, snapshot
from tests.original.original_db import OLD_PASSWORDS, Schema
from tests.original.shop import NO_THREAD, SHOP_ACCOUNTS, SHOP_MESSAGES, TEAM

pytestmark = pytest.mark.django_db(transaction=True)


# --- passwords ---------------------------------------------------------------


@pytest.mark.postgres
def test_old_passwords_sign_in_and_wrong_ones_do_not(shop, run_import):
    run_import(*TEAM)

    for username, rol, name in (
        ("ana", "user", "Ana García"),
        ("luis", "user", "Luis Pérez"),  # emoji in the password
        ("soporte", "admin", "Soporte"),
        ("sofia", "admin", "Sofía Martín"),  # accents in the password
    ):
        body = signs_in(username, OLD_PASSWORDS[username])
        assert (body["user"], body["name"], body["rol"]) == (username, name, rol)
    # Those who have not signed in keep bcryptjs's hash as it was.
    assert User.objects.get(username="marta").password == (
        "bcrypt$" + next(iter(shop["hashes"].values()))
    )

    for username, password in (
        ("ana", OLD_PASSWORDS["soporte"]),
        ("ana", OLD_PASSWORDS["ana"].upper()),
        ("ana", ""),
    ):
        refused = login(csrf_client(), username, password)
        if password:
            assert_error(refused, 401, "invalid_credentials")
        else:
            assert_error(refused, 400, "invalid")


def test_the_first_sign_in_rehashes_and_the_password_keeps_working(
    original, run_import
):
    original.add_user("pepa", "Pepa", password=OLD_PASSWORDS["digits"])
    run_import()
    stored = User.objects.get(username="pepa").password
    assert stored == "bcrypt$" + original.hashes[OLD_PASSWORDS["digits"]]

    signs_in("pepa", "1234")

    # The original had no rules: a short, all-digit password still works,
    # and the first sign-in stores it with our first hasher.
    rehashed = User.objects.get(username="pepa").password
    assert identify_hasher(rehashed).algorithm == get_hashers()[0].algorithm
    signs_in("pepa", "1234")
    assert_error(login(csrf_client(), "pepa", "12345"), 401, "invalid_credentials")


def test_a_password_longer_than_72_bytes_signs_in_as_it_did_in_the_original(
    original, run_import
):
    # bcryptjs hashed only the first 72 bytes; the person types all of it.
    long_password = OLD_PASSWORDS["long"]
    assert len(long_password.encode()) > 72
    original.add_user("largo", "Largo", password=long_password)
    run_import()

    signs_in("largo", long_password)
    # A wrong long password is a wrong password, not a server error.
    assert_error(
        login(csrf_client(), "largo", "otra " + long_password),
        401,
        "invalid_credentials",
    )


@pytest.mark.postgres
def test_rows_without_a_usable_hash_or_with_odd_names_still_become_accounts(
    original, run_import
):
    original.add_user("sinclave", "Sin clave", pass_hash="1234")  # plain text
    original.add_user("vacia", "Vacía", pass_hash="")
    original.add_user("nombrelargo", "Ñ" * 200, password=OLD_PASSWORDS["ana"])
    original.add_user("nulo", "Con\x00nulo", password=OLD_PASSWORDS["ana"])

    report = run_import()

    assert counts(report)[0] == (4, 0, 0)
    for username in ("sinclave", "vacia"):
        assert not User.objects.get(username=username).has_usable_password()
        assert username in report
        assert_error(login(csrf_client(), username, "1234"), 401, "invalid_credentials")
    long_name = User.objects.get(username="nombrelargo").display_name
    assert long_name == "Ñ" * 150
    assert "\x00" not in User.objects.get(username="nulo").display_name
    signs_in("nombrelargo", OLD_PASSWORDS["ana"])


# --- accounts that cannot come in ---------------------------------------------


@pytest.mark.postgres
def test_usernames_our_rules_refuse_are_skipped_and_never_touch_an_account_here(
    original, run_import, make_user, client_for
):
    carmen = make_user("carmen", name="Carmen (nueva app)", email="c@example.com")
    before = User.objects.filter(pk=carmen.pk).values().get()
    good = ["josé.m@x+1-_", "b" * 150]
    refused = {
        "ana maría": "characters",
        "bad/name": "characters",
        "c" * 151: "longer than 150",
        "Ｌola": "NFKC",  # fullwidth: not in Unicode normal form
        "Straße": "case",
        "strasse": "case",
        "filo": "case",
        "ﬁlo": "NFKC",  # the "fi" ligature: not normal, and "filo" besides
        "Carmen": "already exists here",
    }
    for username in [*good, *refused]:
        original.add_user(
            username, f"Nombre de {username[:20]}", password=OLD_PASSWORDS["ana"]
        )
    # Rows from and to them, and one naming the account here by its exact
    # name: none may land in a thread here.
    for username in refused:
        original.send(username, "admin", f"Soy {username[:20]}", "2024-03-01 09:00:00")
    original.send("carmen", "admin", "Soy carmen", "2024-03-01 09:01:00")
    original.add_user("soporte", "Soporte", "admin")
    original.send("soporte", "Carmen", "Hola Carmen", "2024-03-01 09:02:00")
    original.send("soporte", "carmen", "Hola carmen", "2024-03-01 09:03:00")
    for username in good:
        original.send(username, "admin", "Hola", "2024-03-01 09:04:00")

    report = run_import("--admins", "soporte")

    assert counts(report) == (
        (len(good) + 1, 0, len(refused)),
        (len(good), 0, len(refused) + 3),
    )
    assert set(User.objects.values_list("username", flat=True)) == {
        *good,
        "soporte",
        "carmen",
    }
    for username, why in refused.items():
        assert any(
            repr(username) in line and why in line for line in report.splitlines()
        ), (username, report)
    # The account here is as it was, and its thread empty.
    assert User.objects.filter(pk=carmen.pk).values().get() == before
    assert not Message.objects.filter(thread=carmen).exists()
    assert frames(client_for(carmen), "/api/messages/mine") == []
    for username in good:
        signs_in(username, OLD_PASSWORDS["ana"])


def test_names_equal_ignoring_case_are_all_skipped_when_usuarios_has_no_key(
    original, run_import
):
    original.create(Schema(message_ids=original.schema.message_ids, usuarios_key=False))
    for username in ("Pepe", "pepe", "PEPE", "dup", "dup", "solo"):
        original.add_user(username, username)
        original.send(username, "admin", f"Soy {username}", "2024-03-01 09:00:00")

    report = run_import()

    assert counts(report) == ((1, 0, 5), (1, 0, 5))
    assert list(User.objects.values_list("username", flat=True)) == ["solo"]
    assert "Pepe" in report and "PEPE" in report and "'dup'" in report


@pytest.mark.postgres
def test_an_account_deleted_here_is_neither_made_again_nor_written_to(
    shop, original, run_import
):
    # Pedro never had a message imported (he only wrote to Ana), so his
    # account can be deleted here; the team keeps messages' senders.
    run_import(*TEAM)
    User.objects.get(username="pedro").delete()
    original.send("pedro", "admin", "¿Seguís ahí?", "2024-03-04 09:00:00")
    original.send("soporte", "pedro", "Sí, dime.", "2024-03-04 09:01:00")

    report = run_import(*TEAM)

    assert not User.objects.filter(username="pedro").exists()
    assert counts(report) == (
        (0, SHOP_ACCOUNTS, 0),
        (0, SHOP_MESSAGES, len(NO_THREAD) + 2),
    )
    for sample in ("pedro -> admin", "soporte -> pedro"):
        assert any(
            sample in line and "deleted" in line for line in report.splitlines()
        ), report


# --- admins ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "team"),
    [
        (TEAM, {"soporte", "sofia"}),
        (("--trust-admin-role",), {"soporte", "sofia", "intruso"}),
        (("--admins", ""), set()),
    ],
    ids=["admins", "trust-admin-role", "none"],
)
def test_admin_rows_become_admins_only_when_the_operator_says_so(
    shop, run_import, flags, team
):
    report = run_import(*flags)

    admins = set(
        User.objects.filter(role=Role.ADMIN).values_list("username", flat=True)
    )
    assert admins == team
    for name in ("soporte", "sofia", "intruso"):
        assert User.objects.get(username=name).role == (
            Role.ADMIN if name in team else Role.USER
        )
        listed = [
            line for line in report.splitlines() if line.strip().startswith(f"{name}:")
        ]
        assert len(listed) == 1, report
        assert ("admin" if name in team else "user") in listed[0], report
    # Only the team's replies are team replies.
    senders = set(
        Message.objects.filter(sender_role=Role.ADMIN).values_list(
            "sender__username", flat=True
        )
    )
    assert senders <= team
    # Never a message from a non-admin in another customer's thread.
    for message in Message.objects.select_related("sender", "thread"):
        assert message.sender == message.thread or message.sender.role == Role.ADMIN
    # What an admin row wrote to "admin" was the team talking among itself,
    # not a customer asking: no thread of its own, admin here or not.
    assert not Message.objects.filter(
        thread__username__in=["soporte", "sofia", "intruso"]
    ).exists()


def test_with_admin_rows_the_operator_must_choose_before_anything_changes(
    shop, run_import
):
    before = snapshot()

    with pytest.raises(CommandError) as refused:
        run_import()

    for name in ("intruso", "sofia", "soporte"):
        assert name in str(refused.value)
    assert "--admins" in str(refused.value)
    assert snapshot() == before
    # A dry run says so and takes them as users.
    report = run_import("--dry-run")
    assert "intruso: user (not named in --admins)" in report
    assert snapshot() == before


@pytest.mark.parametrize(
    "flags",
    [
        ("--admins", "nadie"),
        ("--admins", "ana"),
        ("--admins", "soporte,ana"),
        ("--admins", "soporte", "--trust-admin-role"),
        ("--admins", "soporte", "--dry-run", "--admins", "pedro"),
    ],
    ids=["missing", "not-admin", "one-not-admin", "both-flags", "dry-run"],
)
def test_a_bad_admin_choice_is_an_error_and_changes_nothing(
    shop, original, run_import, make_user, flags
):
    make_user("jefa", role=Role.ADMIN, name="Jefa")
    before = snapshot()
    rows = original.count("usuarios"), original.count("mensajes")

    with pytest.raises(CommandError) as refused:
        run_import(*flags)

    named = (
        flags[-1].split(",")[-1] if flags[-1] != "--trust-admin-role" else "--admins"
    )
    assert named in str(refused.value)
    assert snapshot() == before
    assert (original.count("usuarios"), original.count("mensajes")) == rows
