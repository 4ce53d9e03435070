"""The WebSocket wire format (PROTOCOL.md section 3): parsing client frames,
building server frames. No I/O here, so every rule is unit-testable.
"""

import json
from typing import Any

from django.utils.translation import gettext as _

from chatproject.isotime import iso_utc
from chatproject.websocket.prepared import PreparedText

MAX_FRAME_BYTES = 64 * 1024
MAX_CLIENT_ID_CHARS = 64
MAX_RESUME_MESSAGES = 1000
CLIENT_FRAME_TYPES = ("send", "resume", "read", "typing", "availability", "ping")
# Message ids are signed 64-bit integers in both databases.
MAX_ID = 2**63 - 1

CLOSE_NOT_AUTHENTICATED = 4001
CLOSE_TOKEN_NOT_PROVIDED = 4002
CLOSE_INVALID_TOKEN = 4003
CLOSE_SESSION_EXPIRED = 4004
CLOSE_SESSION_REVOKED = 4005
CLOSE_TOO_MANY_CONNECTIONS = 4008
CLOSE_FRAME_TOO_LARGE = 4009
# Not in PROTOCOL.md: nothing, not even a ping, came for SOCKET_IDLE_SECONDS
# (chat.idle); the client reconnects as after any drop.
CLOSE_IDLE = 4010
CLOSE_NOT_FOUND = 4404
# Not in PROTOCOL.md's first version: the database or channel layer is down
# at the handshake; the client reconnects with back-off.
CLOSE_SERVICE_UNAVAILABLE = 4503

CLOSE_REASONS = {
    CLOSE_NOT_AUTHENTICATED: "not authenticated",
    CLOSE_TOKEN_NOT_PROVIDED: "token not provided",
    CLOSE_INVALID_TOKEN: "invalid token",
    CLOSE_SESSION_EXPIRED: "session expired",
    CLOSE_SESSION_REVOKED: "session revoked",
    CLOSE_TOO_MANY_CONNECTIONS: "too many connections",
    CLOSE_FRAME_TOO_LARGE: "frame too large",
    CLOSE_IDLE: "idle",
    CLOSE_NOT_FOUND: "not found",
    CLOSE_SERVICE_UNAVAILABLE: "service unavailable",
}


class ChatError(Exception):
    """A refusal told to the client in an ``error`` frame; the socket stays open."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


class BadFrame(ChatError):
    def __init__(self, detail: str, code: str = "bad_frame"):
        super().__init__(code, detail)


def encode(frame: dict[str, Any]) -> str:
    """Serialise a server frame (compact, UTF-8 kept as is)."""
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def encode_shared(frame: dict[str, Any]) -> PreparedText:
    """:func:`encode` for a frame that goes to many sockets: framed once for
    all of them by a server that can (``chatproject.websocket``)."""
    return PreparedText(encode(frame))


def closing_frame(code: int) -> str:
    return encode({"type": "closing", "code": code, "reason": CLOSE_REASONS[code]})


def error_frame(err: ChatError, client_id: str | None = None) -> str:
    return encode(
        {
            "type": "error",
            "code": err.code,
            # str(): a lazy text is put into words here, in the socket's language.
            "detail": str(err.detail),
            "client_id": client_id,
        }
    )


def message_frame(message) -> dict[str, Any]:
    """The ``message`` event for a stored message: one shape, live and in history."""
    return message_frame_of(
        message_id=message.id,
        thread=message.thread.username,
        sender=message.sender.username,
        sender_name=message.sender_name,
        sender_role=message.sender_role,
        text=message.text,
        sent_at=iso_utc(message.created_at),
        client_id=message.client_id,
        note=message.note,
    )


def message_frame_of(
    *,
    message_id: int,
    thread: str,
    sender: str,
    sender_name: str,
    sender_role: str,
    text: str,
    sent_at: str,
    client_id: str | None,
    note: bool = False,
) -> dict[str, Any]:
    """The ``message`` event from its values, for code that holds no model instance.

    ``sent_at`` is already formatted (:func:`chatproject.isotime.iso_utc`):
    a batch formats its one instant once.
    """
    return {
        "type": "message",
        "id": message_id,
        "thread": thread,
        "from": sender,
        "name": sender_name,
        "rol": sender_role,
        "text": text,
        "sent_at": sent_at,
        "client_id": client_id,
        "note": note,
    }


def conversation_frame_of(
    *,
    user: str,
    name: str,
    last_message: dict[str, Any] | None,
    status: str,
    assignee: str | None,
    assignee_name: str | None,
    waiting_since: str | None,
    user_seen_up_to: int | None,
) -> dict[str, Any]:
    """A CONVERSATION (PROTOCOL.md 4) without the asking admin's ``unread``:
    the body of ``conversation`` frames, and of the HTTP rows with it added."""
    return {
        "user": user,
        "name": name,
        "last_message": last_message,
        "status": status,
        "assignee": assignee,
        "assignee_name": assignee_name,
        "needs_reply": waiting_since is not None,
        "waiting_since": waiting_since,
        "user_seen_up_to": user_seen_up_to,
    }


def messages_frames(wires: list[str]) -> list[str]:
    """Encoded ``message`` frames joined into ``messages`` frames (coalescing sockets).

    Joined as text, without decoding; each joined frame stays under
    :data:`MAX_FRAME_BYTES` (or holds one message) so that clients with
    that receive limit can read it.
    """
    joined: list[str] = []
    chunk: list[str] = []
    size = 0
    for wire in wires:
        # len() counts characters; UTF-8 needs up to 4 bytes for one.
        wire_size = len(wire) * 4 if not wire.isascii() else len(wire)
        if chunk and size + wire_size + 64 > MAX_FRAME_BYTES:
            joined.append(_joined(chunk))
            chunk, size = [], 0
        chunk.append(wire)
        size += wire_size + 1
    if chunk:
        joined.append(_joined(chunk))
    return joined


def joined_texts(event: dict[str, Any]) -> list[str]:
    """A ``chat.message`` event's texts joined for coalescing sockets, joined once
    per delivered event and kept in it for the group's other sockets."""
    joined = event.get("joined")
    if joined is None:
        joined = event["joined"] = messages_frames(event["texts"])
    return joined


def _joined(chunk: list[str]) -> str:
    if len(chunk) == 1:
        return chunk[0]
    return PreparedText('{"type":"messages","messages":[' + ",".join(chunk) + "]}")


def frame_too_large(text: str) -> bool:
    """True when a text frame exceeds :data:`MAX_FRAME_BYTES` once UTF-8 encoded."""
    # A character is at most 4 bytes: short frames need no encoding to decide.
    if len(text) * 4 <= MAX_FRAME_BYTES:
        return False
    return (
        len(text) > MAX_FRAME_BYTES
        or len(text.encode("utf-8", "surrogatepass")) > MAX_FRAME_BYTES
    )


def decode(text: str) -> dict[str, Any]:
    """Decode a client frame into a JSON object; raise ChatError."""
    try:
        frame = json.loads(text)
    # ValueError besides JSONDecodeError: an integer of thousands of digits
    # (Python refuses to convert it).
    except (ValueError, RecursionError) as err:
        raise BadFrame(_("The frame is not valid JSON."), code="bad_json") from err
    if not isinstance(frame, dict):
        raise BadFrame(_("A frame must be a JSON object."))
    return frame


def require_known_type(frame: dict[str, Any]) -> str:
    """The frame's ``type`` when it is one clients may send; raise BadFrame."""
    if frame.get("type") not in CLIENT_FRAME_TYPES:
        raise BadFrame(
            _("Unknown frame type; expected one of: %(types)s.")
            % {"types": ", ".join(CLIENT_FRAME_TYPES)}
        )
    return frame["type"]


def parse(text: str) -> dict[str, Any]:
    """Decode a client frame into a dict with a known ``type``; raise ChatError."""
    frame = decode(text)
    require_known_type(frame)
    return frame


def client_id_of(frame: Any) -> str | None:
    """The frame's ``client_id`` when it is a valid one, for echoing in errors."""
    if not isinstance(frame, dict):
        return None
    value = frame.get("client_id")
    if isinstance(value, str) and len(value) <= MAX_CLIENT_ID_CHARS:
        return value
    return None


def require_id(frame: dict[str, Any], field: str) -> int:
    """A message id field: an integer from 0 to 2^63-1; booleans are not integers."""
    value = frame.get(field)
    if isinstance(value, bool) or not isinstance(value, int):
        value = -1
    if not 0 <= value <= MAX_ID:
        raise BadFrame(
            _("'%(field)s' must be an integer from 0 to %(max)d.")
            % {"field": field, "max": MAX_ID}
        )
    return value
