"""Live signals (PROTOCOL.md 5.1 and 5.3): typing and "seen", passed on to the
sockets that may know, never stored (a read mark is stored by
``services.thread_mark_read``; announcing it is here).

Each goes through the hub like a message, encoded once for every socket.
"""

from typing import Any

from django.utils.translation import gettext as _

from accounts.models import User
from chat.frames import BadFrame, encode_shared
from chat.groups import ADMINS_GROUP, user_group
from chat.hub import hub

TYPING_EVENT = "typing.signal"
SEEN_EVENT = "seen.signal"


def typing_frame(sender: User, frame: dict[str, Any]) -> dict[str, Any]:
    """The ``typing`` frame others get for a client's ``typing``. Raises BadFrame.

    A user types in their own thread (a ``thread`` they name is ignored);
    an admin names the thread, and ``note`` says they write a note.
    """
    note = frame.get("note", False)
    if not isinstance(note, bool):
        raise BadFrame(_("'note' must be true or false."))
    if sender.is_support_admin:
        thread = frame.get("thread")
        if not isinstance(thread, str) or not thread:
            raise BadFrame(_("'thread' must name a thread."))
    else:
        thread, note = sender.username, False
    return {
        "type": "typing",
        "thread": thread,
        "user": sender.username,
        "name": sender.name,
        "rol": sender.role,
        "note": note,
    }


async def typing_publish(sender: User, typing: dict[str, Any]) -> None:
    """A customer's typing to the team; an admin's to the other admins and,
    unless it is a note, to the thread's customer. Never to the sender's own
    sockets (the consumer skips events from its own user)."""
    event = {
        "type": TYPING_EVENT,
        "from": sender.username,
        "text": encode_shared(typing),
    }
    await hub.publish(ADMINS_GROUP, event, wait=False)
    if sender.is_support_admin and not typing["note"]:
        await hub.publish(user_group(typing["thread"]), event, wait=False)


async def seen_publish(seen: dict[str, Any]) -> None:
    """A customer's read mark to the team; the team's to the customer."""
    group = ADMINS_GROUP if seen["by"] == "user" else user_group(seen["thread"])
    await hub.publish(
        group, {"type": SEEN_EVENT, "text": encode_shared(seen)}, wait=False
    )
