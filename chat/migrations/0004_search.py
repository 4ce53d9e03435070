"""Search indexes for the inbox's ``q`` (PROTOCOL.md 4), one per database.

SQLite: FTS5 tables over the messages' text and the users' names, with
``remove_diacritics`` so that "jose" finds "José", kept in step by
triggers: a message and its index entry are written in one transaction.
``detail=none, columnsize=0``: the search matches words and prefixes, never
phrases, and ranks by recency, not bm25, so positions and sizes would be
written with every message for nothing.
PostgreSQL: generated ``search_document`` columns holding
``to_tsvector('simple', unaccent(...))``, with GIN indexes, through an
immutable wrapper (``unaccent()`` itself is only stable, and a generated
column needs an immutable expression), names qualified so that their upkeep
does not depend on the search_path. The models do not declare these
columns: the database fills them in, and Django never reads them. ``unaccent`` is a trusted extension:
the database's owner may create it (in ``public``, which the database's owner
owns from PostgreSQL 15 on).

Beware on SQLite: a later migration that makes Django rebuild
``chat_message`` or ``accounts_user`` (most column changes do) drops these
triggers with the old table; such a migration must run this one's SQL
again. ``tests/integration/test_desk_api.py`` fails if the triggers are gone.
"""

from django.db import migrations

SQLITE_FORWARD = [
    """CREATE VIRTUAL TABLE chat_message_search USING fts5(
         text, content='chat_message', content_rowid='id',
         tokenize='unicode61 remove_diacritics 2', detail=none, columnsize=0)""",
    "INSERT INTO chat_message_search(chat_message_search) VALUES ('rebuild')",
    """CREATE TRIGGER chat_message_search_insert AFTER INSERT ON chat_message BEGIN
         INSERT INTO chat_message_search(rowid, text) VALUES (new.id, new.text);
       END""",
    """CREATE TRIGGER chat_message_search_delete AFTER DELETE ON chat_message BEGIN
         INSERT INTO chat_message_search(chat_message_search, rowid, text)
         VALUES ('delete', old.id, old.text);
       END""",
    """CREATE TRIGGER chat_message_search_update AFTER UPDATE OF text ON chat_message
       BEGIN
         INSERT INTO chat_message_search(chat_message_search, rowid, text)
         VALUES ('delete', old.id, old.text);
         INSERT INTO chat_message_search(rowid, text) VALUES (new.id, new.text);
       END""",
    """CREATE VIRTUAL TABLE chat_user_search USING fts5(
         username, display_name, content='accounts_user', content_rowid='id',
         tokenize='unicode61 remove_diacritics 2', detail=none, columnsize=0)""",
    "INSERT INTO chat_user_search(chat_user_search) VALUES ('rebuild')",
    """CREATE TRIGGER chat_user_search_insert AFTER INSERT ON accounts_user BEGIN
         INSERT INTO chat_user_search(rowid, username, display_name)
         VALUES (new.id, new.username, new.display_name);
       END""",
    """CREATE TRIGGER chat_user_search_delete AFTER DELETE ON accounts_user BEGIN
         INSERT INTO chat_user_search(chat_user_search, rowid, username, display_name)
         VALUES ('delete', old.id, old.username, old.display_name);
       END""",
    """CREATE TRIGGER chat_user_search_update
       AFTER UPDATE OF username, display_name ON accounts_user BEGIN
         INSERT INTO chat_user_search(chat_user_search, rowid, username, display_name)
         VALUES ('delete', old.id, old.username, old.display_name);
         INSERT INTO chat_user_search(rowid, username, display_name)
         VALUES (new.id, new.username, new.display_name);
       END""",
]

SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS chat_user_search_update",
    "DROP TRIGGER IF EXISTS chat_user_search_delete",
    "DROP TRIGGER IF EXISTS chat_user_search_insert",
    "DROP TABLE IF EXISTS chat_user_search",
    "DROP TRIGGER IF EXISTS chat_message_search_update",
    "DROP TRIGGER IF EXISTS chat_message_search_delete",
    "DROP TRIGGER IF EXISTS chat_message_search_insert",
    "DROP TABLE IF EXISTS chat_message_search",
]

POSTGRES_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public",
    # Punctuation becomes space so that a username such as ana.garcia is the
    # words "ana" and "garcia" (PostgreSQL's parser would keep it whole).
    """CREATE OR REPLACE FUNCTION chat_search_document(text) RETURNS tsvector
       LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
         SELECT to_tsvector('simple', regexp_replace(
           public.unaccent('public.unaccent'::regdictionary, $1), '[^[:alnum:]]+', ' ', 'g'))
       $$""",
    """CREATE OR REPLACE FUNCTION chat_search_query(text) RETURNS tsquery
       LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
         SELECT to_tsquery('simple', public.unaccent('public.unaccent'::regdictionary, $1))
       $$""",
    # Stored, not only indexed: a common word is found fastest by walking
    # the newest messages and testing each, and computing the document for
    # every row walked cost ~20 µs each (bench: `q=pedido` 259 ms -> 4 ms).
    """ALTER TABLE chat_message ADD COLUMN search_document tsvector
       GENERATED ALWAYS AS (chat_search_document(text)) STORED""",
    "CREATE INDEX chat_message_search ON chat_message USING gin (search_document)",
    """ALTER TABLE accounts_user ADD COLUMN search_document tsvector
       GENERATED ALWAYS AS (chat_search_document(username || ' ' || display_name))
       STORED""",
    "CREATE INDEX chat_user_search ON accounts_user USING gin (search_document)",
]

POSTGRES_BACKWARD = [
    "DROP INDEX IF EXISTS chat_user_search",
    "ALTER TABLE accounts_user DROP COLUMN IF EXISTS search_document",
    "DROP INDEX IF EXISTS chat_message_search",
    "ALTER TABLE chat_message DROP COLUMN IF EXISTS search_document",
    "DROP FUNCTION IF EXISTS chat_search_query(text)",
    "DROP FUNCTION IF EXISTS chat_search_document(text)",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor.get(schema_editor.connection.vendor)
        if statements is None:
            raise RuntimeError(
                "Search needs SQLite or PostgreSQL; "
                f"{schema_editor.connection.vendor} is not supported."
            )
        for statement in statements:
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_username_key"),
        ("chat", "0003_desk"),
    ]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD}),
            _run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD}),
        ),
    ]
