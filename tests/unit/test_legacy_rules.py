"""The import's rules that need no database: where a message of the original
goes, which usernames pass, who becomes an admin, how rows without ids are
told apart, and where the original's database is."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from legacy.accounts import (
    AdminChoiceError,
    Directory,
    Person,
    admin_choice,
    refused_because,
)
from legacy.messages import place
from legacy.report import Report
from legacy.source import (
    Account,
    Row,
    SourceError,
    _Digests,
    _zone,
    location_from_environment,
    location_from_url,
)

ANA, LUIS, SOFIA, MARTA = (
    Person(1, False, "Ana"),
    Person(2, False, "Luis"),
    Person(3, True, "Sofía"),
    Person(4, True, "Marta"),
)
DIRECTORY = Directory(
    people={"ana": ANA, "luis": LUIS, "sofia": SOFIA, "marta": MARTA},
    absent={"Pepe": "account skipped"},
)
WHEN = datetime(2025, 1, 1, tzinfo=UTC)


def placed(sender, recipient, text="hola", sent_at=WHEN):
    report = Report(source="test", dry_run=False)
    found = place(Row("1", sender, recipient, text, sent_at), DIRECTORY, report)
    return found, report


@pytest.mark.parametrize(
    ("sender", "recipient", "thread", "by"),
    [
        ("ana", "admin", ANA, ANA),  # to the team, as the original's page sent
        ("ana", "sofia", ANA, ANA),  # to one admin by name
        ("sofia", "ana", ANA, SOFIA),  # an admin's reply
    ],
)
def test_a_message_between_a_customer_and_the_team_goes_to_the_customers_thread(
    sender, recipient, thread, by
):
    found, report = placed(sender, recipient)
    assert found.thread_id == thread.user_id
    assert found.sender == by
    assert report.messages_skipped.total == 0


@pytest.mark.parametrize(
    ("sender", "recipient", "reason"),
    [
        ("ana", "luis", "between two users"),
        ("sofia", "marta", "between two admins"),
        ("sofia", "admin", "between two admins"),
        ("ghost", "admin", "sender: not in usuarios"),
        ("sofia", "ghost", "recipient: not in usuarios"),
        ("ana", "ghost", "recipient: not in usuarios"),
        ("Pepe", "admin", "sender: account skipped"),
        (None, "admin", "sender: not in usuarios"),
    ],
)
def test_other_messages_are_skipped_with_their_reason(sender, recipient, reason):
    found, report = placed(sender, recipient)
    assert found is None
    assert list(report.messages_skipped) == [reason]
    assert report.messages_skipped[reason].samples == [f"{sender} -> {recipient}"]


@pytest.mark.parametrize(
    ("text", "sent_at", "reason"),
    [
        ("", WHEN, "empty message"),
        (" \n\t", WHEN, "empty message"),
        (None, WHEN, "empty message"),
        ("a\x00b", WHEN, "holds a NUL character, which the database cannot store"),
        ("hola", None, "fecha is not a date"),
    ],
)
def test_messages_the_database_cannot_hold_as_they_are_are_skipped(
    text, sent_at, reason
):
    found, report = placed("ana", "admin", text, sent_at)
    assert found is None
    assert list(report.messages_skipped) == [reason]


@pytest.mark.parametrize(
    ("username", "refused"),
    [
        ("ana", None),
        ("ana.garcia+1@example.com", None),
        ("José_2", None),
        ("", "no username"),
        (None, "no username"),
        ("ana garcia", "username with characters other than letters"),
        ("ana;drop", "username with characters other than letters"),
        ("ana\n", "username with characters other than letters"),
        ("Ａｎａ", "username not in Unicode normal form (NFKC)"),
        ("a" * 151, "username longer than 150 characters"),
    ],
)
def test_usernames_pass_the_rules_of_our_sign_up_or_are_refused(username, refused):
    reason = refused_because(username)
    if refused is None:
        assert reason is None
    else:
        assert reason.startswith(refused)


ROWS = [
    Account("ana", "Ana", "user", None, None),
    Account("sofia", "Sofía", "admin", None, None),
    Account("mallory", "M", "admin", None, None),
]


def test_admin_rows_are_admins_only_when_named_or_trusted():
    assert admin_choice(ROWS, ["sofia"], False) == {"sofia"}
    assert admin_choice(ROWS, [], False) == set()
    assert admin_choice(ROWS, [], True) == {"sofia", "mallory"}


@pytest.mark.parametrize(
    ("named", "problem"),
    [(["ana"], "'ana' has rol 'user'"), (["nobody"], "'nobody' is not a username")],
)
def test_naming_an_admin_who_is_not_an_admin_row_is_an_error(named, problem):
    with pytest.raises(AdminChoiceError, match=problem):
        admin_choice(ROWS, named, False)


def test_rows_without_ids_get_keys_that_tell_equal_rows_apart_the_same_way_each_run():
    second = datetime(2025, 1, 1, 10, 0, 0)
    rows = [
        ["ana", "admin", "hola", second],
        ["ana", "admin", "hola", second],  # sent twice in one second
        ["ana", "admin", "adiós", second],
        ["ana", "admin", "hola", second + timedelta(seconds=1)],
    ]

    def keys_of(some):
        digests = _Digests()
        return [digests.key(row) for row in some]

    keys = keys_of(rows)
    assert keys == keys_of(rows)
    assert len(set(keys)) == 4
    # A run that saw only the first row keyed it as a later run does.
    assert keys_of(rows[:1]) == keys[:1]
    assert all(key.startswith("sha256:") and len(key) <= 64 for key in keys)


def test_the_database_is_named_by_url_or_by_the_originals_variables():
    location = location_from_url("mysql://chat:s%40cret@db.example:3307/chat")
    assert (location.host, location.port, location.user, location.password) == (
        "db.example",
        3307,
        "chat",
        "s@cret",
    )
    assert "s@cret" not in str(location)
    from_env = location_from_environment(
        {"DB_HOST": "db", "DB_USER": "u", "DB_PASS": "p", "DB_NAME": "chat"}
    )
    assert (from_env.host, from_env.port, from_env.database) == ("db", 3306, "chat")


@pytest.mark.parametrize(
    "url", ["postgres://u@h/db", "mysql://u@h", "mysql:///db", "mysql://u@h:port/db"]
)
def test_a_url_that_is_not_a_mysql_database_is_a_clear_error(url):
    with pytest.raises(SourceError):
        location_from_url(url)


def test_missing_variables_are_named():
    with pytest.raises(SourceError, match="DB_HOST, DB_NAME"):
        location_from_environment({"DB_USER": "u"})


def test_time_zones_by_name_or_offset():
    assert _zone("+02:00") == timezone(timedelta(hours=2))
    assert _zone("-05:30") == timezone(-timedelta(hours=5, minutes=30))
    assert _zone("Europe/Madrid").key == "Europe/Madrid"
    assert _zone("Nowhere/Land") is None
    assert _zone("") is None


def test_the_report_gives_counts_reasons_and_samples():
    report = Report(source="mysql://chat@db:3306/chat", dry_run=True)
    report.accounts_created = 3
    for name in ("a b", "c d", "e f", "g h", "i j", "k l"):
        report.accounts_skipped.add("bad name", repr(name))
    report.admin_rows.append(("mallory", "user (not named in --admins)"))
    text = report.text()
    assert "Dry run" in text
    assert "Accounts: 3 created, 0 already imported, 6 skipped" in text
    assert "bad name: 6 ('a b', 'c d', 'e f', 'g h', 'i j', …)" in text
    assert "mallory: user (not named in --admins)" in text
    assert "Messages: 0 imported, 0 already imported, 0 skipped" in text
