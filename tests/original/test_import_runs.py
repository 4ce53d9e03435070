"""``manage.py import_original`` end to end (issue 16), the runs: a dry
run, a second run, rows the original stored later, messages written here
meanwhile, a run interrupted half way, the original's own ``DB_*``
variables, databases that cannot be read (also from the command line), and
the progress shown on a terminal or in a log.

Every test runs twice, on a ``mensajes`` with an ``id`` column and on one
without (``original`` fixture); those marked ``postgres`` also on PostgreSQL.
"""

import os
import pty
import re
import select
import socket
import subprocess
import sys
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection

from accounts.models import User
from chat.models import Message
from chat.services import message_store
from legacy.models import ImportedMessage
from tests.original.checks import counts, frames, inbox, iso, signs_in, snapshot
from tests.original.original_db import OLD_PASSWORDS
from tests.original.shop import (
    LUIS_HISTORY,
    NO_THREAD,
    SHOP_ACCOUNTS,
    SHOP_MESSAGES,
    TEAM,
)

pytestmark = pytest.mark.django_db(transaction=True)


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


# --- progress ------------------------------------------------------------------


def test_progress_is_a_bar_on_a_terminal_and_plain_lines_in_a_log(shop, original):
    # A log (not a terminal): a plain line per phase once it is done.
    log = StringIO()
    call_command(
        "import_original", "--database", original.url, *TEAM,
        stdout=StringIO(), stderr=log,
    )  # fmt: skip
    rows = original.count("mensajes")
    assert f"messages: {rows:,} of {rows:,}, done" in log.getvalue()
    assert "\r" not in log.getvalue()

    # A terminal: tqdm's bar, redrawn in place.
    original.add_user("nuevo", "Nuevo")
    original.send("nuevo", "admin", "Hola")
    controller, terminal = pty.openpty()
    with open(terminal, "w", closefd=True) as stream:
        call_command(
            "import_original", "--database", original.url, *TEAM,
            stdout=StringIO(), stderr=stream,
        )  # fmt: skip
    drawn = b""
    while select.select([controller], [], [], 0.2)[0]:
        try:
            drawn += os.read(controller, 65536)
        except OSError:  # the terminal's other end is closed: all read
            break
    os.close(controller)
    assert b"\r" in drawn
    assert re.search(rb"100%\|[^\r\n]*\| " + str(rows + 1).encode(), drawn), drawn
