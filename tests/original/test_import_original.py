"""``manage.py import_original`` end to end (issue 16): a real MariaDB filled
the way the original Node app filled it (bcryptjs hashes, its INSERT), the
command run against it, and the result read back as people see it, through
the HTTP API: old passwords sign in, customers and the team read the
history, the team's inbox shows each conversation's state.

Every test runs twice, on a ``mensajes`` with an ``id`` column and on one
without (``original`` fixture); those marked ``postgres`` also on PostgreSQL.
"""

import re
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.contrib.auth.hashers import get_hashers, identify_hasher
from django.core.management.base import CommandError
from django.db import DatabaseError, connection

from accounts.models import Role, User
from chat.models import Message, ReadState, Thread
from chat.services import message_store
from legacy.models import ImportedAccount, ImportedMessage
from tests.integration.http_helpers import assert_error, csrf_client, login
from tests.original.original_db import OLD_PASSWORDS, Schema
from tests.original.shop import (
    ANA_HISTORY,
    LONG_TEXT,
    LUIS_HISTORY,
    NO_THREAD,
    SHOP_ACCOUNTS,
    SHOP_MESSAGES,
    TEAM,
    fill_shop,
)

pytestmark = pytest.mark.django_db(transaction=True)

ACCOUNTS = re.compile(
    r"^Accounts: (\d+) created, (\d+) already imported, (\d+) skipped$", re.M
)
MESSAGES = re.compile(
    r"^Messages: (\d+) imported, (\d+) already imported, (\d+) skipped$", re.M
)
LENIENT = (
    re.compile(
        r"^Accounts: (\d+) (?:would be )?created, (\d+) already imported, "
        r"(\d+) skipped$",
        re.M,
    ),
    re.compile(
        r"^Messages: (\d+) (?:would be )?imported, (\d+) already imported, "
        r"(\d+) skipped$",
        re.M,
    ),
)


def iso(fecha: str) -> str:
    """A UTC ``fecha`` as the API writes instants."""
    return datetime.fromisoformat(fecha).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def counts(report: str, *, exact: bool = True) -> tuple[tuple[int, ...], ...]:
    """(created, already, skipped) of accounts, (imported, already, skipped)
    of messages, each line present exactly once in the brief's shape (with
    ``exact=False``, also "N would be created")."""
    accounts_line, messages_line = (ACCOUNTS, MESSAGES) if exact else LENIENT
    accounts, messages = accounts_line.findall(report), messages_line.findall(report)
    assert len(accounts) == 1 and len(messages) == 1, report
    return tuple(map(int, accounts[0])), tuple(map(int, messages[0]))


def snapshot() -> dict:
    """Everything the import may write, row by row."""
    return {
        "users": list(User.objects.order_by("pk").values()),
        "messages": list(Message.objects.order_by("pk").values()),
        "threads": list(Thread.objects.order_by("pk").values()),
        "reads": list(ReadState.objects.order_by("pk").values()),
        "imported_accounts": list(
            ImportedAccount.objects.order_by("pk").values("username", "user_id")
        ),
        "imported_messages": list(ImportedMessage.objects.order_by("pk").values()),
    }


def frames(client, path: str, **query) -> list[tuple]:
    """A history page as (from, name, rol, text, sent_at) in the order given."""
    response = client.get(f"{path}?{urlencode(query)}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["has_more"] is False
    for message in body["messages"]:
        assert message["note"] is False and message["client_id"] is None, message
    return [
        (m["from"], m["name"], m["rol"], m["text"], m["sent_at"])
        for m in body["messages"]
    ]


def inbox(client, **query) -> dict[str, dict]:
    """/api/conversations as {customer: row}, in the order given."""
    response = client.get(f"/api/conversations?{urlencode(query)}")
    assert response.status_code == 200, response.content
    return {row["user"]: row for row in response.json()["conversations"]}


def signs_in(username: str, password: str) -> dict:
    """The session body of a sign-in through POST /api/auth/login."""
    client = csrf_client()
    response = login(client, username, password)
    assert response.status_code == 200, (username, response.content)
    assert client.cookies["token"].value
    return response.json()


@pytest.fixture
def shop(original) -> dict:
    return fill_shop(original)


@pytest.fixture
def team_client(client_for):
    """A signed-in client of an imported admin, by username."""

    def make(username: str):
        return client_for(User.objects.get(username=username))

    return make


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


# --- history, inbox, search --------------------------------------------------


@pytest.mark.postgres
def test_the_customer_and_the_team_read_the_imported_history(
    shop, run_import, client_for, team_client
):
    run_import(*TEAM)
    ana = User.objects.get(username="ana")

    expected = [(*row[:4], iso(row[4])) for row in ANA_HISTORY]
    assert frames(client_for(ana), "/api/messages/mine") == expected
    assert (
        frames(team_client("soporte"), "/api/messages", **{"with": "ana"}) == expected
    )
    assert frames(team_client("sofia"), "/api/messages", **{"with": "luis"}) == [
        (*row[:4], iso(row[4])) for row in LUIS_HISTORY
    ]
    # A long text and a row whose fecha the server set, as the original's did.
    marta = frames(team_client("soporte"), "/api/messages", **{"with": "marta"})
    assert [m[:4] for m in marta] == [
        ("marta", "marta", "user", LONG_TEXT),
        ("marta", "marta", "user", "¿Hay alguien?"),
    ]
    assert marta[0][4] == iso("2024-03-03 08:00:00")
    before, after = shop["marta_asked_between"]
    sent_at = datetime.fromisoformat(marta[1][4]).replace(tzinfo=None)
    assert before.replace(microsecond=0) <= sent_at <= after
    # Nothing else came in: the rows with no thread here are nowhere.
    assert Message.objects.count() == SHOP_MESSAGES
    texts = set(Message.objects.values_list("text", flat=True))
    assert not texts & {text for _, _, text, _ in NO_THREAD}


def test_a_burst_of_messages_in_one_second_keeps_its_order(
    original, run_import, team_client
):
    # fecha has whole seconds: a quick exchange shares one. Equal texts too.
    original.add_user("ana", "Ana")
    original.add_user("soporte", "Soporte", "admin")
    sent = []
    for n in range(16):
        sender, recipient = ("soporte", "ana") if n % 3 == 0 else ("ana", "admin")
        text = "ok" if n % 4 == 0 else f"línea {n}"
        # The first half in one named second, the rest the original's way.
        original.send(sender, recipient, text, "2024-03-01 09:00:00" if n < 8 else None)
        sent.append((sender, text))

    run_import("--admins", "soporte")

    history = frames(team_client("soporte"), "/api/messages", **{"with": "ana"})
    assert [(m[0], m[3]) for m in history] == sent
    assert {m[4] for m in history[:8]} == {iso("2024-03-01 09:00:00")}


@pytest.mark.postgres
def test_the_inbox_shows_the_team_each_conversation_read(
    shop, run_import, make_user, team_client, client_for
):
    # An admin of the new app, there before the import: reads it all too.
    jefa = make_user("jefa", role=Role.ADMIN, name="Jefa")
    run_import(*TEAM)
    last = {
        user: Message.objects.filter(thread__username=user).latest("id").id
        for user in ("ana", "luis", "marta")
    }

    for client in (team_client("soporte"), team_client("sofia"), client_for(jefa)):
        rows = inbox(client)
        assert list(rows) == ["marta", "luis", "ana"]  # newest first
        states = {
            user: (
                row["status"],
                row["assignee"],
                row["needs_reply"],
                row["waiting_since"],
                row["unread"],
                row["user_seen_up_to"],
                row["last_message"]["id"],
            )
            for user, row in rows.items()
        }
        ana, luis, marta = last["ana"], last["luis"], last["marta"]
        assert states == {
            # Ana wrote last: open, waiting since her first message after
            # the team's last reply; Sofía answered first: hers.
            "ana": ("open", "sofia", True, iso(ANA_HISTORY[3][4]), 0, ana, ana),
            # The team wrote last: resolved.
            "luis": ("resolved", "soporte", False, None, 0, luis, luis),
            # Nobody answered: open, nobody's, waiting since her first.
            "marta": ("open", None, True, iso("2024-03-03 08:00:00"), 0, marta, marta),
        }
        assert rows["ana"]["name"] == "Ana García"
        assert rows["ana"]["assignee_name"] == "Sofía Martín"
        assert rows["marta"]["name"] == "marta"
    soporte = team_client("soporte")
    waiting = inbox(soporte, needs_reply=1, status="open", order="waiting")
    assert list(waiting) == ["ana", "marta"]  # the longest wait first
    assert list(inbox(soporte, assignee="sofia")) == ["ana"]
    assert list(inbox(soporte, status="resolved")) == ["luis"]
    # The customer's own read mark covers the team's imported replies.
    assert (
        ReadState.objects.get(
            reader__username="ana", thread__username="ana"
        ).last_read_id
        == last["ana"]
    )


@pytest.mark.postgres
def test_search_finds_imported_messages(shop, run_import, team_client):
    run_import(*TEAM)
    soporte = team_client("soporte")

    found = inbox(soporte, q="canarias")
    assert list(found) == ["luis"]
    assert found["luis"]["match"]["text"] == "¿Tenéis envío a Canarias?"
    assert list(inbox(soporte, q="envio")) == ["luis"]  # accents ignored
    assert list(inbox(soporte, q="seguimiento ES-998")) == ["ana"]
    assert list(inbox(soporte, q="principio")) == ["marta"]
    # Rows that were skipped are not found.
    assert inbox(soporte, q="contraseña") == {}


# --- the report --------------------------------------------------------------


def test_the_report_counts_everything_and_says_why_rows_were_skipped(shop, run_import):
    report = run_import(*TEAM)

    assert counts(report) == ((SHOP_ACCOUNTS, 0, 0), (SHOP_MESSAGES, 0, len(NO_THREAD)))
    lines = report.splitlines()
    # Each skipped row's sample, under an indented reason.
    reasons = [line for line in lines if line.startswith("    ")]
    for sender, recipient, _, why in NO_THREAD:
        sample = f"{sender} -> {recipient}"
        assert any(sample in line and why in line for line in reasons), (sample, report)
    # The picture that stayed behind.
    assert any("ana.png" in line and "not imported" in line for line in lines), report
    # Every rol 'admin' row, and what became of it.
    outcome = {
        name: line for name in ("soporte", "sofia", "intruso") for line in lines
        if line.strip().startswith(f"{name}:")
    }  # fmt: skip
    assert "admin" in outcome["soporte"] and "admin" in outcome["sofia"]
    assert "user" in outcome["intruso"], report
    assert re.search(r"^Took \d", report, re.M), report
    assert not any(line.startswith("Dry run") for line in lines)


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


# --- dry run, re-runs, later rows, interruptions -----------------------------


@pytest.mark.postgres
def test_a_dry_run_changes_nothing_and_counts_what_a_run_would_do(
    shop, original, run_import
):
    before = snapshot()

    dry = run_import(*TEAM, "--dry-run")

    assert snapshot() == before
    assert any(line.startswith("Dry run") for line in dry.splitlines()), dry
    real = run_import(*TEAM)
    assert counts(dry, exact=False) == counts(real)

    # After a run, a dry run counts only what is new.
    original.add_user("nuevo", "Nuevo")
    original.send("nuevo", "admin", "Hola, soy nuevo", "2024-03-05 09:00:00")
    original.send("luis", "admin", "Otra pregunta", "2024-03-05 09:01:00")
    after_run = snapshot()
    again = run_import(*TEAM, "--dry-run")
    assert snapshot() == after_run
    assert counts(again, exact=False) == (
        (1, SHOP_ACCOUNTS, 0),
        (2, SHOP_MESSAGES, len(NO_THREAD)),
    )
    # The count lines keep the brief's shape in a dry run too, so that a
    # script reading them reads both alike.
    assert counts(dry) == counts(real)


@pytest.mark.postgres
def test_a_second_run_imports_nothing_and_changes_nothing(
    shop, run_import, team_client
):
    run_import(*TEAM)
    # The team carries on here: Luis's conversation reopened and handed over.
    answer = team_client("soporte").patch(
        "/api/conversations/luis",
        '{"status": "open", "assignee": "sofia"}',
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content
    before = snapshot()

    report = run_import(*TEAM)

    assert counts(report) == (
        (0, SHOP_ACCOUNTS, 0),
        (0, SHOP_MESSAGES, len(NO_THREAD)),
    )
    assert snapshot() == before


@pytest.mark.postgres
def test_rows_added_to_the_original_later_come_in_with_the_next_run(
    shop, original, run_import, team_client, client_for
):
    run_import(*TEAM)
    # The original kept running: a new customer, and more in old threads.
    original.add_user("nuevo", "Nuevo Cliente", password=OLD_PASSWORDS["ana"])
    later = [
        ("nuevo", "admin", "¿Hacéis factura?", "2024-03-05 09:00:00"),
        ("sofia", "nuevo", "Sí, desde tu perfil.", "2024-03-05 09:02:00"),
        ("luis", "admin", "Ha llegado roto.", "2024-03-05 10:00:00"),
        ("luis", "admin", "Os mando foto.", "2024-03-05 10:01:00"),
        ("sofia", "marta", "¡Hola Marta! Dime.", "2024-03-05 11:00:00"),
        # Two equal rows in one second are two messages.
        ("ana", "admin", "¿Hola?", "2024-03-05 12:00:00"),
        ("ana", "admin", "¿Hola?", "2024-03-05 12:00:00"),
        ("pedro", "luis", "¿Te llegó?", "2024-03-05 12:30:00"),
    ]
    for sender, recipient, text, fecha in later:
        original.send(sender, recipient, text, fecha)

    report = run_import(*TEAM)

    assert counts(report) == (
        (1, SHOP_ACCOUNTS, 0),
        (7, SHOP_MESSAGES, len(NO_THREAD) + 1),
    )
    signs_in("nuevo", OLD_PASSWORDS["ana"])
    soporte = team_client("soporte")
    luis = frames(soporte, "/api/messages", **{"with": "luis"})
    assert [m[3] for m in luis] == [
        *(row[3] for row in LUIS_HISTORY),
        "Ha llegado roto.",
        "Os mando foto.",
    ]
    rows = inbox(soporte)
    assert list(rows) == ["ana", "marta", "luis", "nuevo"]
    state = {
        user: (row["status"], row["assignee"], row["waiting_since"], row["unread"])
        for user, row in rows.items()
    }
    assert state == {
        # Reopened by Luis; still Soporte's.
        "luis": ("open", "soporte", iso("2024-03-05 10:00:00"), 0),
        # Sofía answered Marta: resolved, and Sofía's.
        "marta": ("resolved", "sofia", None, 0),
        "nuevo": ("resolved", "sofia", None, 0),
        "ana": ("open", "sofia", iso("2024-03-01 09:12:00"), 0),
    }
    assert [
        m[3]
        for m in frames(
            client_for(User.objects.get(username="ana")), "/api/messages/mine"
        )
    ][-2:] == ["¿Hola?", "¿Hola?"]

    # A third equal row later is one more message, and nothing else moves.
    original.send("ana", "admin", "¿Hola?", "2024-03-05 12:00:00")
    third = run_import(*TEAM)
    assert counts(third)[1] == (1, SHOP_MESSAGES + 7, len(NO_THREAD) + 1)
    assert Message.objects.filter(text="¿Hola?").count() == 3


@pytest.mark.postgres
def test_messages_written_here_meanwhile_stay_unread_after_the_next_run(
    shop, original, run_import, team_client, client_for
):
    # The new app is live while the original still takes messages: Luis
    # writes here, and the team answers Marta here; nobody has read those.
    run_import(*TEAM)
    luis, marta = (User.objects.get(username=name) for name in ("luis", "marta"))
    message_store(sender=luis, text="Escribo ya desde la app nueva.")
    reply = message_store(
        sender=User.objects.get(username="sofia"), to="marta", text="¿Sigues ahí?"
    )
    soporte = team_client("soporte")
    assert inbox(soporte)["luis"]["unread"] == 1
    assert inbox(soporte)["marta"]["user_seen_up_to"] < reply["id"]

    # Rows the original stored meanwhile, in both threads.
    original.send("luis", "admin", "Y esto aún desde la vieja.", "2024-03-06 09:00:00")
    original.send("marta", "admin", "Y yo desde la vieja.", "2024-03-06 09:00:00")
    run_import(*TEAM)

    rows = inbox(soporte)
    # What was written here and never read still counts as unread: for the
    # team (Luis's message) and for the customer (Sofía's reply to Marta).
    still_unread = {
        "team, Luis's message": rows["luis"]["unread"] >= 1,
        "Marta, Sofía's reply": rows["marta"]["user_seen_up_to"] < reply["id"],
    }
    assert all(still_unread.values()), still_unread
    mine = client_for(marta).get("/api/messages/mine").json()["messages"]
    assert reply["id"] in [m["id"] for m in mine]


def _interrupt_on(text: str) -> tuple[list[str], list[str]]:
    """SQL making our database refuse to store a message of ``text``, and
    the SQL undoing it: a crash half way through a run."""
    table = connection.ops.quote_name(Message._meta.db_table)
    literal = text.replace("'", "''")
    if connection.vendor == "sqlite":
        return (
            [
                f"CREATE TRIGGER import_crash BEFORE INSERT ON {table} "
                f"WHEN NEW.text = '{literal}' BEGIN SELECT RAISE(ABORT, 'crash'); END"
            ],
            ["DROP TRIGGER import_crash"],
        )
    return (
        [
            "CREATE FUNCTION import_crash() RETURNS trigger AS $$ BEGIN "
            f"IF NEW.text = '{literal}' THEN RAISE EXCEPTION 'crash'; END IF; "
            "RETURN NEW; END $$ LANGUAGE plpgsql",
            f"CREATE TRIGGER import_crash BEFORE INSERT ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION import_crash()",
        ],
        [f"DROP TRIGGER import_crash ON {table}", "DROP FUNCTION import_crash()"],
    )


def _execute(statements: list[str]) -> None:
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


@pytest.mark.postgres
def test_an_interrupted_run_can_be_run_again(shop, run_import, team_client):
    crash, undo = _interrupt_on(LUIS_HISTORY[1][3])
    _execute(crash)
    try:
        with pytest.raises((CommandError, DatabaseError)):
            run_import(*TEAM, "--batch-size", "2")
    finally:
        _execute(undo)
    # Whole batches before the crash are in; the one that crashed is not.
    partial = Message.objects.count()
    assert 0 < partial < SHOP_MESSAGES
    assert ImportedMessage.objects.count() == partial

    report = run_import(*TEAM, "--batch-size", "2")

    accounts, messages = counts(report)
    assert accounts == (0, SHOP_ACCOUNTS, 0)
    assert messages == (SHOP_MESSAGES - partial, partial, len(NO_THREAD))
    texts = list(Message.objects.values_list("text", flat=True))
    assert len(texts) == len(set(texts)) == SHOP_MESSAGES
    rows = inbox(team_client("soporte"))
    assert {
        user: (row["status"], row["assignee"], row["unread"])
        for user, row in rows.items()
    } == {
        "ana": ("open", "sofia", 0),
        "luis": ("resolved", "soporte", 0),
        "marta": ("open", None, 0),
    }


# --- where the original is, and when it cannot be read ------------------------


@pytest.mark.postgres
def test_the_original_s_own_variables_name_its_database(
    shop, original, run_import, monkeypatch
):
    for name, value in original.env.items():
        monkeypatch.setenv(name, value)

    report = run_import(*TEAM, database=False)

    assert counts(report) == ((SHOP_ACCOUNTS, 0, 0), (SHOP_MESSAGES, 0, len(NO_THREAD)))
    # Without DB_PORT, 3306, as the original: nothing listens there.
    monkeypatch.delenv("DB_PORT")
    if _listening(3306):
        pytest.skip("something listens on port 3306 here")
    with pytest.raises(CommandError, match="3306"):
        run_import(*TEAM, database=False)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_database_that_cannot_be_read_is_a_clear_error(
    shop, original, run_import, monkeypatch
):
    port = original.server.port
    wrong_password = "not-the-password-4f9a"
    nobody = _free_port()
    cases = {
        f"mysql://original:{wrong_password}@127.0.0.1:{port}/chat_original": "denied",
        f"mysql://original:original-pw@127.0.0.1:{nobody}/chat_original": "refused",
        f"mysql://original:original-pw@127.0.0.1:{port}/no_such_db": "no_such_db",
        "postgres://original@127.0.0.1/chat_original": "mysql://",
    }
    before = snapshot()
    for url, said in cases.items():
        with pytest.raises(CommandError) as refused:
            run_import("--database", url, database=False)
        message = str(refused.value)
        assert said.lower() in message.lower(), (url, message)
        assert wrong_password not in message and "original-pw" not in message
    # Neither variables nor --database.
    for name in ("DB_HOST", "DB_USER", "DB_PASS", "DB_NAME", "DB_PORT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(CommandError, match="DB_HOST"):
        run_import(database=False)
    with pytest.raises(CommandError, match="batch-size"):
        run_import("--batch-size", "0")
    # Not the original's database: no such tables.
    original.execute("DROP TABLE mensajes")
    with pytest.raises(CommandError, match="mensajes"):
        run_import()
    assert snapshot() == before


def test_from_the_command_line_a_bad_connection_is_one_line_not_a_traceback(original):
    from tests.integration.live.conftest import daphne_env

    url = (
        f"mysql://original:wrong-pass-77@127.0.0.1:{original.server.port}/chat_original"
    )
    done = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "import_original",
            "--database",
            url,
            "--no-progress",
        ],
        cwd=settings.BASE_DIR,
        env=daphne_env("memory", None),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 1, done
    assert "CommandError: Cannot connect" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "wrong-pass-77" not in done.stderr
    assert "Access denied" in done.stderr


# --- time zones ----------------------------------------------------------------


@pytest.fixture
def server_zone(original):
    """Set the MySQL server's global time zone for this test; restored after."""
    with original.root() as root, root.cursor() as cursor:
        cursor.execute("SELECT @@global.time_zone")
        (previous,) = cursor.fetchone()

    def set_zone(zone: str) -> None:
        with original.root() as root, root.cursor() as cursor:
            cursor.execute("SET GLOBAL time_zone = %s", [zone])

    yield set_zone
    set_zone(previous)


@pytest.mark.postgres
def test_a_timestamp_fecha_is_the_same_instant_whatever_the_server_s_zone(
    original, run_import, server_zone, team_client
):
    server_zone("+02:00")
    original.add_user("ana", "Ana")
    original.add_user("soporte", "Soporte", "admin")
    original.send("ana", "admin", "En invierno", "2024-01-15 09:00:00")
    original.send("soporte", "ana", "En verano", "2024-07-15 08:00:00")

    run_import("--admins", "soporte")

    history = frames(team_client("soporte"), "/api/messages", **{"with": "ana"})
    assert [(m[3], m[4]) for m in history] == [
        ("En invierno", "2024-01-15T09:00:00.000Z"),
        ("En verano", "2024-07-15T08:00:00.000Z"),
    ]


@pytest.mark.parametrize(
    ("flags", "zone", "expected"),
    [
        (("--timezone", "Europe/Madrid"), None, ("09:00", "08:00")),
        ((), "+02:00", ("08:00", "08:00")),
        ((), "SYSTEM", ("10:00", "10:00")),  # this machine's zone is UTC
    ],
    ids=["named", "server-offset", "server-system"],
)
def test_a_datetime_fecha_is_read_in_the_zone_it_was_written_in(
    original, run_import, server_zone, team_client, flags, zone, expected
):
    original.create(Schema(message_ids=original.schema.message_ids, fecha="DATETIME"))
    if zone:
        server_zone(zone)
    if zone == "SYSTEM":
        (system,) = original.execute("SELECT @@system_time_zone")[0]
        if system != "UTC":
            pytest.skip(f"the machine's zone is {system}")
    original.add_user("ana", "Ana")
    original.add_user("soporte", "Soporte", "admin")
    # Wall clocks, as a DATETIME keeps them: 10:00 in Madrid, winter and summer.
    original.send("ana", "admin", "En invierno", "2024-01-15 10:00:00")
    original.send("soporte", "ana", "En verano", "2024-07-15 10:00:00")

    report = run_import("--admins", "soporte", *flags)

    history = frames(team_client("soporte"), "/api/messages", **{"with": "ana"})
    assert [m[4] for m in history] == [
        f"2024-01-15T{expected[0]}:00.000Z",
        f"2024-07-15T{expected[1]}:00.000Z",
    ], report


def test_an_unknown_zone_is_an_error(original, run_import):
    original.create(Schema(message_ids=original.schema.message_ids, fecha="DATETIME"))
    before = snapshot()

    with pytest.raises(CommandError, match="Mars/Olympus"):
        run_import("--timezone", "Mars/Olympus")

    assert snapshot() == before


def test_thousands_of_rows_come_in_batch_by_batch_in_their_order(original, run_import):
    original.add_user("ana", "Ana")
    original.add_user("soporte", "Soporte", "admin")
    start = datetime(2024, 1, 1, tzinfo=UTC)
    rows = [
        ("ana" if n % 2 else "soporte", "admin" if n % 2 else "ana", f"mensaje {n}",
         (start + timedelta(seconds=n)).strftime("%Y-%m-%d %H:%M:%S"))
        for n in range(3000)
    ]  # fmt: skip
    with original.connection().cursor() as cursor:
        cursor.executemany(
            "INSERT INTO mensajes (de_usuario, para_usuario, mensaje, fecha) "
            "VALUES (%s, %s, %s, %s)",
            rows,
        )

    report = run_import("--admins", "soporte", "--batch-size", "500")

    assert counts(report)[1] == (3000, 0, 0)
    texts = list(Message.objects.order_by("id").values_list("text", flat=True))
    assert texts == [f"mensaje {n}" for n in range(3000)]
    assert Thread.objects.get(user__username="ana").status == Thread.OPEN


@pytest.mark.parametrize("fecha", ["TIMESTAMP", "DATETIME"])
def test_a_row_whose_fecha_is_no_date_is_skipped_and_reported(
    original, run_import, fecha
):
    # MySQL without NO_ZERO_DATE keeps '0000-00-00 00:00:00'.
    original.create(Schema(message_ids=original.schema.message_ids, fecha=fecha))
    original.add_user("ana", "Ana")
    original.execute("SET SESSION sql_mode = ''")
    original.send("ana", "admin", "Sin fecha", "0000-00-00 00:00:00")
    original.send("ana", "admin", "Con fecha", "2024-01-01 00:00:00")

    report = run_import()

    assert counts(report) == ((1, 0, 0), (1, 0, 1))
    assert list(Message.objects.values_list("text", flat=True)) == ["Con fecha"]
    assert any(
        "ana -> admin" in line and "fecha" in line for line in report.splitlines()
    )
