"""Writes: post a message (validate, store, then publish) and mark a thread read.

The consumer calls these, and so can anything else that posts: the rules on
who may write to whom live only here. A message's path: ``message_draft``
(the rules) -> ``message_writer`` -> ``chat.store.amessages_store`` (one
transaction per batch) -> ``publish_batch`` (``chat.hub``) -> each socket.
"""

import logging
import time
from typing import Any

from django.conf import settings as django_settings
from django.db.models.functions import Greatest
from django.utils.translation import gettext as _

from accounts.models import User
from chat import metrics, selectors, store
from chat.frames import MAX_CLIENT_ID_CHARS, BadFrame, ChatError, encode_shared
from chat.groups import ADMINS_GROUP, user_group
from chat.hub import hub
from chat.models import ReadState
from chat.presence import ONLINE, presence
from chat.store import Draft, StoredMessage
from chat.writer import BatchWriter
from notifications import schedule as notifications

MAX_MESSAGE_CHARS = 4000

CHAT_MESSAGE_EVENT = "chat.message"
CONVERSATION_EVENT = "conversation.update"

logger = logging.getLogger(__name__)


def _clean_text(text: Any) -> str:
    if not isinstance(text, str):
        raise BadFrame(_("'text' must be a string."))
    if not text.strip():
        raise ChatError("empty_text", _("The message is empty."))
    if len(text) > MAX_MESSAGE_CHARS:
        raise ChatError(
            "too_long",
            _("The message is longer than %(max)d characters.")
            % {"max": MAX_MESSAGE_CHARS},
        )
    # A NUL or a lone surrogate would be refused by the database after the
    # client was told nothing; refuse it here, where the client hears why.
    if "\x00" in text:
        raise BadFrame(_("The message must not contain NUL characters."))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise BadFrame(_("The message is not valid Unicode.")) from err
    return text


def _clean_client_id(client_id: Any) -> str | None:
    if client_id is None:
        return None
    if not isinstance(client_id, str) or len(client_id) > MAX_CLIENT_ID_CHARS:
        raise BadFrame(
            _("'client_id' must be a string of at most %(max)d characters.")
            % {"max": MAX_CLIENT_ID_CHARS}
        )
    return client_id


def _clean_note(note: Any, sender: User) -> bool:
    if note is None:
        return False
    if not isinstance(note, bool):
        raise BadFrame(_("'note' must be true or false."))
    if note and not sender.is_support_admin:
        raise ChatError("forbidden", _("Only the support team writes notes."))
    return note


def message_draft(
    *,
    sender: User,
    text: Any,
    to: Any = None,
    client_id: Any = None,
    note: Any = None,
) -> Draft:
    """Check text, client id and the recipient's shape, no database. Raises ChatError.

    A user writes only into their own thread (and may not name ``to``); an
    admin names the user whose thread they answer, and may make it a note.
    """
    text = _clean_text(text)
    client_id = _clean_client_id(client_id)
    note = _clean_note(note, sender)
    if not sender.is_support_admin:
        if to is not None:
            raise ChatError(
                "invalid_recipient", _("Users write only to the support team.")
            )
    elif not isinstance(to, str) or not to:
        raise BadFrame(_("'to' must name the user whose thread you answer."))
    return Draft(
        sender=sender,
        text=text,
        client_id=client_id,
        to=to if sender.is_support_admin else None,
        note=note,
    )


def message_store(
    *,
    sender: User,
    text: Any,
    to: Any = None,
    client_id: Any = None,
    note: Any = None,
) -> dict[str, Any]:
    """Validate and store one message from sync code, without publishing it
    (demo data, scripts); return its frame. Raises ChatError."""
    draft = message_draft(
        sender=sender, text=text, to=to, client_id=client_id, note=note
    )
    [outcome] = store.messages_store([draft])
    if isinstance(outcome, ChatError):
        raise outcome
    return outcome.frame


def _chat_event(wires: list[str]) -> dict[str, Any]:
    # stored_at feeds the delivery-latency metric; plain types only (msgpack).
    return {"type": CHAT_MESSAGE_EVENT, "texts": wires, "stored_at": time.time()}


async def messages_publish(stored: list[StoredMessage], *, wait: bool = True) -> None:
    """Deliver stored messages to their threads' users and to the support team.

    Every socket of the thread's user and every admin socket gets each
    message once, the sender's own socket included: that copy is its echo,
    the ack. Notes go to the team only. The two groups never share a socket
    (admins have no thread). A group gets all of its messages in one event,
    so a socket that asked for coalescing gets them in one frame. Then the
    team hears of each conversation whose status or assignee the messages
    changed. With ``wait`` False the relay to other processes is queued (in
    order) rather than awaited.
    """
    if not stored:
        return
    by_thread: dict[str, list[str]] = {}
    for message in stored:
        if not message.frame["note"]:
            by_thread.setdefault(message.frame["thread"], []).append(message.wire)
    for thread, wires in by_thread.items():
        await hub.publish(user_group(thread), _chat_event(wires), wait=wait)
    await hub.publish(
        ADMINS_GROUP, _chat_event([message.wire for message in stored]), wait=wait
    )
    for message in stored:
        if message.conversation is not None:
            await conversation_announce(message.conversation, wait=wait)


async def conversation_announce(
    conversation: dict[str, Any], *, wait: bool = True
) -> None:
    """Tell every admin socket, on every process, of a conversation's new state."""
    # Encoded once here for every socket; "unread" is each admin's own.
    shared = {key: value for key, value in conversation.items() if key != "unread"}
    frame = {"type": "conversation", "conversation": shared}
    await hub.publish(
        ADMINS_GROUP,
        {"type": CONVERSATION_EVENT, "text": encode_shared(frame)},
        wait=wait,
    )


async def publish_batch(outcomes: list[StoredMessage | ChatError]) -> None:
    """Fan a stored batch out, once; its refusals are each caller's own."""
    stored = [outcome for outcome in outcomes if isinstance(outcome, StoredMessage)]
    try:
        await messages_publish(stored, wait=False)
    except Exception:
        # Local delivery does not fail as a whole (each socket's failure is
        # its own); this is a bug, and the messages are stored: log it.
        logger.exception("publishing a batch of %d messages failed", len(stored))
    else:
        metrics.MESSAGES_POSTED.inc(len(stored))
        metrics.MESSAGE_BATCHES.inc()
    team_status = presence.team_status
    notifications.after_batch(
        (message.frame for message in stored),
        None if team_status is None else team_status == ONLINE,
    )


# A message's path, in one place: the writer stores each batch of drafts in
# one transaction (chat.store), then publishes it (above) before any sender
# hears back.
message_writer = BatchWriter(
    store=store.amessages_store,
    publish=publish_batch,
    spacing=django_settings.CHAT_BATCH_SPACING_MS / 1000,
)


async def amessage_post(
    *,
    sender: User,
    text: Any,
    to: Any = None,
    client_id: Any = None,
    note: Any = None,
) -> StoredMessage:
    """Store, then publish, a message from async code. Raises ChatError.

    It reaches the sender's own sockets too, as their echo. Other processes
    get it through the channel layer; when that is down the message is
    still stored and delivered here, and the others get it on ``resume``.
    """
    draft = message_draft(
        sender=sender, text=text, to=to, client_id=client_id, note=note
    )
    return await message_writer.store(draft)


def thread_mark_read(*, reader: User, thread: Any, up_to: int) -> dict[str, Any] | None:
    """Record that ``reader`` has read ``thread`` up to message ``up_to``; the
    ``seen`` frame to announce when that moved the mark forward (PROTOCOL.md
    5.3: the customer's own mark, or the highest of the team's), else None.

    Users may mark only their own thread; the mark never moves backwards.
    """
    if not isinstance(thread, str) or not thread:
        raise BadFrame(_("'thread' must name a thread."))
    if not reader.is_support_admin and thread != reader.username:
        raise ChatError("forbidden", _("You can only mark your own thread as read."))
    owner_id = User.objects.filter(username=thread).values_list("id", flat=True).first()
    if owner_id is None:
        raise ChatError(
            "unknown_user", _("There is no user named %(name)s.") % {"name": thread}
        )
    # Users read only their own thread: their mark is the customer's.
    before = selectors.read_mark(owner_id, customer=not reader.is_support_admin) or 0
    updated = ReadState.objects.filter(reader=reader, thread_id=owner_id).update(
        last_read_id=Greatest("last_read_id", up_to)
    )
    if not updated:
        ReadState.objects.get_or_create(
            reader=reader, thread_id=owner_id, defaults={"last_read_id": up_to}
        )
    if up_to <= before:
        return None
    if not reader.is_support_admin:
        notifications.customer_read(owner_id, up_to)
    by = "team" if reader.is_support_admin else "user"
    return {"type": "seen", "thread": thread, "by": by, "up_to": up_to}
