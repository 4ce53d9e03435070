"""The inbox's search (``q``, PROTOCOL.md 4): words found in a customer's name
or in any message of their thread, ignoring case and accents.

Served by the indexes of migration 0004: FTS5 on SQLite (brought up to
date by ``chat.search_index``), GIN over ``tsvector`` on PostgreSQL. Each
word matches as a prefix ("jos" finds "José"), and a message matches when
it holds every word.

Messages are read newest first in chunks and stop as soon as enough
threads are found, so a common word costs a chunk or two, not a scan of
every message that holds it.
"""

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection

from chat import search_index

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
        "SELECT t.last_message_id, t.user_id FROM chat_user_search s "
        "JOIN chat_thread t ON t.user_id = s.rowid "
        "WHERE chat_user_search MATCH %s AND t.last_message_id < %s "
        "ORDER BY t.last_message_id DESC LIMIT %s"
    )

    # Of some threads: those whose customer's name matches; those with a
    # matching message at or above an id. "{ids}" is a list of placeholders.
    named = (
        "SELECT rowid FROM chat_user_search "
        # "+rowid": a filter on the match's rows. A bare "rowid IN" made
        # FTS5 run the whole match once per id (bench: 663 ms -> 3.6 ms).
        "WHERE chat_user_search MATCH %s AND +rowid IN ({ids})"
    )
    matched_since = (
        "SELECT DISTINCT m.thread_id FROM chat_message m "
        "WHERE m.id >= %s AND m.thread_id IN ({ids}) AND m.id IN ("
        "SELECT rowid FROM chat_message_search "
        "WHERE chat_message_search MATCH %s AND rowid >= %s)"
    )

    @staticmethod
    def matched_since_params(query: str, since: int, ids: list[int]) -> list:
        return [since, *ids, query, since]

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
        "WHERE m.search_document @@ chat_search_query(%s) AND m.id < %s "
        "ORDER BY m.id DESC LIMIT %s"
    )
    names = (
        "SELECT t.last_message_id, t.user_id FROM accounts_user u "
        "JOIN chat_thread t ON t.user_id = u.id "
        "WHERE u.search_document @@ chat_search_query(%s) "
        "AND t.last_message_id < %s "
        "ORDER BY t.last_message_id DESC LIMIT %s"
    )

    named = (
        "SELECT u.id FROM accounts_user u "
        "WHERE u.search_document @@ chat_search_query(%s) AND u.id IN ({ids})"
    )
    matched_since = (
        "SELECT DISTINCT m.thread_id FROM chat_message m "
        "WHERE m.id >= %s AND m.thread_id IN ({ids}) "
        "AND m.search_document @@ chat_search_query(%s)"
    )

    @staticmethod
    def matched_since_params(query: str, since: int, ids: list[int]) -> list:
        return [since, *ids, query]

    @staticmethod
    def query(words: list[str]) -> str:
        # Words hold letters and digits only: nothing to escape.
        return " & ".join(
            f"{word}:*" if len(word) >= MIN_PREFIX_CHARS else word for word in words
        )


def _dialect():
    return _Postgres if connection.vendor == "postgresql" else _Sqlite


def _placeholders(sql: str, ids: list[int]) -> str:
    return sql.replace("{ids}", ", ".join(["%s"] * len(ids)))


class _Search:
    """One page of a search, read newest first in chunks.

    A thread is listed once across pages, at one key: a thread whose
    customer's name matches at its newest message (the names' walk), any
    other at its newest matching message (the messages' walk). So the
    messages' walk passes over name matches, and over threads that have a
    matching message at or above the page's ceiling (listed on an earlier
    page).
    """

    def __init__(self, cursor, dialect, query: str, ceiling: int, keep):
        self.cursor, self.dialect, self.query = cursor, dialect, query
        self.ceiling, self.keep = ceiling, keep
        self.newest_match: dict[int, int] = {}

    def _ids(self, sql: str, params: list) -> set[int]:
        self.cursor.execute(sql, params)
        return {row[0] for row in self.cursor.fetchall()}

    def _walk(self, sql: str, limit: int, passable) -> dict[int, int]:
        """Up to ``limit`` threads from ``sql``'s rows ``(key, thread id)``
        below the ceiling, newest first, that ``passable`` (given each
        thread's newest key in the chunk) and the filters let through:
        thread id -> key."""
        found: dict[int, int] = {}
        seen: set[int] = set()
        below = self.ceiling
        while len(found) < limit:
            self.cursor.execute(sql, [self.query, below, CHUNK])
            rows = self.cursor.fetchall()
            newest: dict[int, int] = {}
            for key, thread_id in rows:
                if thread_id not in seen:
                    newest.setdefault(thread_id, key)
            seen.update(newest)
            kept = self.keep(passable(newest))
            for thread_id in sorted(kept, key=newest.get, reverse=True):
                if len(found) < limit:
                    found[thread_id] = newest[thread_id]
            if len(rows) < CHUNK:
                break
            below = rows[-1][0]
        return found

    def by_name(self, limit: int) -> dict[int, int]:
        """Threads whose customer's name matches, by their newest message."""
        return self._walk(self.dialect.names, limit, list)

    def by_text(self, limit: int) -> dict[int, int]:
        """Other threads, by their newest matching message."""
        return self._walk(self.dialect.messages, limit, self._text_only)

    def _text_only(self, newest: dict[int, int]) -> list[int]:
        thread_ids = list(newest)
        if not thread_ids:
            return []
        named = self._ids(
            _placeholders(self.dialect.named, thread_ids), [self.query, *thread_ids]
        )
        for thread_id in named:
            # Listed by the names' walk; shown with the newest match this
            # walk passes (None when none is this recent).
            self.newest_match.setdefault(thread_id, newest[thread_id])
        rest = [thread_id for thread_id in thread_ids if thread_id not in named]
        if rest and self.ceiling < NO_CEILING:
            listed = self._ids(
                _placeholders(self.dialect.matched_since, rest),
                self.dialect.matched_since_params(self.query, self.ceiling, rest),
            )
            rest = [thread_id for thread_id in rest if thread_id not in listed]
        return rest


NO_CEILING = 2**63 - 1


def threads_matching(
    words: list[str],
    *,
    before: int | None,
    limit: int,
    keep: Callable[[list[int]], set[int]],
) -> list[Hit]:
    """Up to ``limit`` threads matching ``words``, by key, newest first, with
    keys below ``before``. ``keep(thread_ids)`` returns those of them the
    other filters let through (status, assignee, ...).
    """
    # SQLite indexes messages shortly after storing them: the newest join now.
    search_index.catch_up()
    dialect = _dialect()
    ceiling = before if before is not None else NO_CEILING
    with connection.cursor() as cursor:
        search = _Search(cursor, dialect, dialect.query(words), ceiling, keep)
        by_name = search.by_name(limit)
        by_text = search.by_text(limit)
    hits = [
        Hit(thread_id, search.newest_match.get(thread_id), last_id)
        for thread_id, last_id in by_name.items()
    ]
    hits += [Hit(thread_id, match, match) for thread_id, match in by_text.items()]
    return sorted(hits, key=lambda hit: hit.key, reverse=True)[:limit]
