"""What the desk's tests share."""

from django.db import connection

from chat import search_index

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


def assert_search_index_sound() -> None:
    """SQLite: once the pending messages are in, FTS5's own check finds every
    entry of both indexes in its table with that text, and every row indexed
    (the triggers ran, and touched no message still pending)."""
    if connection.vendor != "sqlite":
        return
    search_index.catch_up()
    with connection.cursor() as cursor:
        for table in ("chat_message_search", "chat_user_search"):
            cursor.execute(
                f"INSERT INTO {table}({table}, rank) VALUES ('integrity-check', 1)"  # noqa: S608 (two fixed names)
            )
