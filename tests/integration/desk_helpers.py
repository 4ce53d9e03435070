"""What the desk's tests share."""

# PROTOCOL.md 4: a CONVERSATION; WebSocket frames carry it without "unread".
CONVERSATION_KEYS = {
    "user",
    "name",
    "last_message",
    "unread",
    "status",
    "assignee",
    "assignee_name",
    "needs_reply",
    "waiting_since",
    "user_seen_up_to",
}
