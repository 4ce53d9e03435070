"""``manage.py import_original`` end to end (issue 16), the messages: the
history customers and the team read, bursts in one second, the inbox's
state of each conversation, search, the report and why rows were skipped,
``fecha`` in any time zone (TIMESTAMP or DATETIME, an unknown zone, zero
dates), and thousands of rows in batches.

Every test runs twice, on a ``mensajes`` with an ``id`` column and on one
without (``original`` fixture); those marked ``postgres`` also on PostgreSQL.
"""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management.base import CommandError

from accounts.models import Role, User
from chat import search_index
from chat.models import Message, ReadState, Thread
from tests.original.checks import counts, frames, inbox, iso, snapshot
from tests.original.original_db import Schema
from tests.original.shop import (
    ANA_HISTORY,
    LONG_TEXT,
    LUIS_HISTORY,
    NO_THREAD,
    SHOP_ACCOUNTS,
    SHOP_MESSAGES,
    TEAM,
)

pytestmark = pytest.mark.django_db(transaction=True)


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
    # Indexed by the import itself, not left to the first search (SQLite).
    assert not search_index.pending()
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
