"""What the import tests (issue 16) read back, shared by their modules: the
report's count lines, every row the import may write, and the API as people
see it (history pages, the inbox, a sign-in).
"""

import re
from datetime import datetime
from urllib.parse import urlencode

from accounts.models import User
from chat.models import Message, ReadState, Thread
from legacy.models import ImportedAccount, ImportedMessage
from tests.integration.http_helpers import csrf_client, login

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
