"""The original's ``mensajes`` as messages in support threads.

A row between a customer and the team lands in the customer's thread; the
original also let anyone write to anyone, and those rows have no thread
here: they are skipped and counted. Each batch of rows is stored with the
keys of the rows it came from in one transaction, so a run that stops half
way leaves whole batches, and the next run goes on from there.
"""

from dataclasses import dataclass

from django.db import connection, transaction

from accounts.models import Role
from chat.models import Message
from chat.store import MESSAGE_COLUMNS
from legacy import bulk
from legacy.accounts import TEAM, Directory, Person
from legacy.models import ImportedMessage
from legacy.report import Report
from legacy.source import Row


@dataclass(frozen=True)
class Placed:
    """A row with its thread: ``(thread id, sender)``."""

    row: Row
    thread_id: int
    sender: Person


def place(row: Row, directory: Directory, report: Report) -> Placed | None:
    """The thread ``row`` goes into, or None (counted in ``report``)."""
    sample = f"{row.sender!s} -> {row.recipient!s}"
    people = directory.people
    sender = people.get(row.sender)
    recipient = people.get(row.recipient)
    reason = None
    if sender is None:
        reason = "sender: " + directory.why_not(row.sender)
    elif sender.admin:
        if row.recipient == TEAM or (recipient is not None and recipient.admin):
            reason = "between two admins"
        elif recipient is None:
            reason = "recipient: " + directory.why_not(row.recipient)
    elif row.recipient == TEAM and row.sender in directory.admin_rows:
        # The original sent an admin's message to 'admin' to that one
        # account, not to the team: chatter of an admin not imported as one.
        reason = "from an admin row not imported as an admin, to 'admin'"
    elif row.recipient != TEAM and (recipient is None or not recipient.admin):
        reason = (
            "between two users"
            if recipient is not None
            else "recipient: " + directory.why_not(row.recipient)
        )
    if reason is None:
        if not row.text or not row.text.strip():
            reason = "empty message"
        elif "\x00" in row.text:
            reason = "holds a NUL character, which the database cannot store"
        elif row.sent_at is None:
            reason = "fecha is not a date"
    if reason is not None:
        report.messages_skipped.add(reason, sample)
        return None
    thread = recipient if sender.admin else sender
    return Placed(row, thread.user_id, sender)


def import_batch(
    rows: list[Row], directory: Directory, report: Report, *, dry_run: bool
) -> None:
    """Import one batch of rows: those not imported before, in their order."""
    placed = [found for row in rows if (found := place(row, directory, report))]
    if not placed:
        return
    with transaction.atomic(), connection.cursor() as cursor:
        done = bulk.present(
            cursor, ImportedMessage, "key", [item.row.key for item in placed]
        )
        report.messages_existing += len(done)
        fresh = [item for item in placed if item.row.key not in done]
        for item in fresh:
            report.message_roles[Role.ADMIN if item.sender.admin else Role.USER] += 1
        report.messages_imported += len(fresh)
        if dry_run or not fresh:
            return
        adapt = connection.ops.adapt_datetimefield_value
        returned = bulk.insert(
            cursor,
            Message,
            MESSAGE_COLUMNS,
            [_values(item, adapt(item.row.sent_at)) for item in fresh],
            suffix=" RETURNING id",
        )
        # Rows are numbered in the order they are listed: the n-th key is
        # the n-th id.
        ids = sorted(message_id for (message_id,) in returned)
        bulk.insert(
            cursor,
            ImportedMessage,
            ("key", "message_id"),
            [
                (item.row.key, message_id)
                for item, message_id in zip(fresh, ids, strict=True)
            ],
        )


def _values(item: Placed, sent_at) -> tuple:
    sender = item.sender
    values = {
        "thread_id": item.thread_id,
        "sender_id": sender.user_id,
        "sender_name": sender.name,
        "sender_role": Role.ADMIN if sender.admin else Role.USER,
        "text": item.row.text,
        "client_id": None,
        "created_at": sent_at,
        "note": False,
    }
    return tuple(values[column] for column in MESSAGE_COLUMNS)
