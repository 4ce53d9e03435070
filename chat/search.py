"""The inbox's search (``q``, PROTOCOL.md 4): words found in a customer's name
or in any message of their thread, ignoring case and accents.

Served by the indexes of migration 0004: FTS5 on SQLite, GIN over
``tsvector`` on PostgreSQL. Each word matches as a prefix ("jos" finds
"José"), and a message matches when it holds every word.

Messages are read newest first in chunks and stop as soon as enough
threads are found, so a common word costs a chunk or two, not a scan of
every message that holds it.
"""

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection

MAX_QUERY_CHARS = 200
MAX_WORDS = 8
CHUNK = 500
# A one-letter prefix would match most of the index; it matches whole words.
MIN_PREFIX_CHARS = 2

_WORD = re.compile(r"[^\W_]+")


def words_of(query: str) -> list[str]:
    """The words of a search, folded (no accents, no case): the highlighting
    in the page folds the same way."""
    decomposed = unicodedata.normalize("NFKD", query[:MAX_QUERY_CHARS])
    folded = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return _WORD.findall(folded)[:MAX_WORDS]


@dataclass(frozen=True)
class Hit:
    """A thread found by a search: ``match`` is the id of its newest matching
    message, or None when only the customer's name matched; ``key`` orders
    the results (and is the ``before`` of the next page)."""

    thread_id: int
    match: int | None
    key: int


class _Sqlite:
    messages = (
        "SELECT s.rowid, m.thread_id FROM chat_message_search s "
        "JOIN chat_message m ON m.id = s.rowid "
        "WHERE chat_message_search MATCH %s AND s.rowid < %s "
        "ORDER BY s.rowid DESC LIMIT %s"
    )
    names = (
        "SELECT t.user_id, t.last_message_id FROM chat_user_search s "
        "JOIN chat_thread t ON t.user_id = s.rowid "
        "WHERE chat_user_search MATCH %s AND t.last_message_id < %s "
        "ORDER BY t.last_message_id DESC LIMIT %s"
    )

    @staticmethod
    def query(words: list[str]) -> str:
        # Quoted: FTS5 reads bare words such as AND, OR, NEAR as operators.
        return " AND ".join(
            f'"{word}"*' if len(word) >= MIN_PREFIX_CHARS else f'"{word}"'
            for word in words
        )


class _Postgres:
    messages = (
        "SELECT m.id, m.thread_id FROM chat_message m "
        "WHERE chat_search_document(m.text) @@ chat_search_query(%s) AND m.id < %s "
        "ORDER BY m.id DESC LIMIT %s"
    )
    names = (
        "SELECT t.user_id, t.last_message_id FROM accounts_user u "
        "JOIN chat_thread t ON t.user_id = u.id "
        "WHERE chat_search_document(u.username || ' ' || u.display_name) "
        "@@ chat_search_query(%s) AND t.last_message_id < %s "
        "ORDER BY t.last_message_id DESC LIMIT %s"
    )

    @staticmethod
    def query(words: list[str]) -> str:
        # Words hold letters and digits only: nothing to escape.
        return " & ".join(
            f"{word}:*" if len(word) >= MIN_PREFIX_CHARS else word for word in words
        )


def _dialect():
    return _Postgres if connection.vendor == "postgresql" else _Sqlite


def threads_matching(
    words: list[str],
    *,
    before: int | None,
    limit: int,
    keep: Callable[[list[int]], set[int]],
) -> list[Hit]:
    """Up to ``limit`` threads matching ``words``, newest match first, with
    keys below ``before``. ``keep(thread_ids)`` returns those of them the
    other filters let through (status, assignee, ...).
    """
    dialect = _dialect()
    query = dialect.query(words)
    ceiling = before if before is not None else 2**63 - 1
    hits: dict[int, Hit] = {}
    with connection.cursor() as cursor:
        cursor.execute(dialect.names, [query, ceiling, limit])
        by_name = dict(cursor.fetchall())
        for thread_id in keep(list(by_name)):
            hits[thread_id] = Hit(thread_id, None, by_name[thread_id])
        found_by_text: set[int] = set()
        below = ceiling
        while len(found_by_text) < limit:
            cursor.execute(dialect.messages, [query, below, CHUNK])
            rows = cursor.fetchall()
            if not rows:
                break
            newest_first: dict[int, int] = {}
            for message_id, thread_id in rows:
                if thread_id not in found_by_text:
                    newest_first.setdefault(thread_id, message_id)
            for thread_id in keep(list(newest_first)):
                found_by_text.add(thread_id)
                match = newest_first[thread_id]
                named = hits.get(thread_id)
                # A thread found by name keeps its place (its newest
                # message) and shows its newest matching message.
                key = named.key if named else match
                hits[thread_id] = Hit(thread_id, match, key)
            if len(rows) < CHUNK:
                break
            below = rows[-1][0]
    return sorted(hits.values(), key=lambda hit: hit.key, reverse=True)[:limit]
