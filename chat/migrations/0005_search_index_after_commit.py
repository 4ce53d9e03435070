"""SQLite: messages join the search index after they are stored, not in the
storing transaction (``chat.search_index`` says why and how).

The insert trigger now only notes the new message's id in
``chat_message_search_pending``; ``chat.search_index.catch_up`` indexes
what is noted there. The delete and update triggers change the index only
for messages already in it, and drop a pending one from the list.

PostgreSQL keeps its search column in the row: nothing changes there.
"""

from django.db import migrations

_INSERT_TRIGGER_0004 = """
    CREATE TRIGGER chat_message_search_insert AFTER INSERT ON chat_message BEGIN
      INSERT INTO chat_message_search(rowid, text) VALUES (new.id, new.text);
    END"""
_DELETE_TRIGGER_0004 = """
    CREATE TRIGGER chat_message_search_delete AFTER DELETE ON chat_message BEGIN
      INSERT INTO chat_message_search(chat_message_search, rowid, text)
      VALUES ('delete', old.id, old.text);
    END"""
_UPDATE_TRIGGER_0004 = """
    CREATE TRIGGER chat_message_search_update AFTER UPDATE OF text ON chat_message
    BEGIN
      INSERT INTO chat_message_search(chat_message_search, rowid, text)
      VALUES ('delete', old.id, old.text);
      INSERT INTO chat_message_search(rowid, text) VALUES (new.id, new.text);
    END"""
_DROP_TRIGGERS = [
    "DROP TRIGGER chat_message_search_insert",
    "DROP TRIGGER chat_message_search_delete",
    "DROP TRIGGER chat_message_search_update",
]

SQLITE_FORWARD = [
    # Migration 0004 indexed every message there is: nothing is pending.
    "CREATE TABLE chat_message_search_pending (message_id INTEGER PRIMARY KEY)",
    *_DROP_TRIGGERS,
    """CREATE TRIGGER chat_message_search_insert AFTER INSERT ON chat_message BEGIN
         INSERT INTO chat_message_search_pending (message_id) VALUES (new.id);
       END""",
    # Deleting an entry FTS5 never had would corrupt an external-content
    # index: a pending message is only struck off the list.
    """CREATE TRIGGER chat_message_search_delete AFTER DELETE ON chat_message BEGIN
         INSERT INTO chat_message_search(chat_message_search, rowid, text)
         SELECT 'delete', old.id, old.text WHERE NOT EXISTS (
           SELECT 1 FROM chat_message_search_pending WHERE message_id = old.id);
         DELETE FROM chat_message_search_pending WHERE message_id = old.id;
       END""",
    # A pending message is indexed with the text it has by then.
    """CREATE TRIGGER chat_message_search_update AFTER UPDATE OF text ON chat_message
       WHEN NOT EXISTS (
         SELECT 1 FROM chat_message_search_pending WHERE message_id = old.id)
       BEGIN
         INSERT INTO chat_message_search(chat_message_search, rowid, text)
         VALUES ('delete', old.id, old.text);
         INSERT INTO chat_message_search(rowid, text) VALUES (new.id, new.text);
       END""",
]

SQLITE_BACKWARD = [
    # Everything into the index first: from here on, the triggers keep it.
    """INSERT INTO chat_message_search(rowid, text)
       SELECT m.id, m.text FROM chat_message_search_pending p
       JOIN chat_message m ON m.id = p.message_id""",
    *_DROP_TRIGGERS,
    "DROP TABLE chat_message_search_pending",
    _INSERT_TRIGGER_0004,
    _DELETE_TRIGGER_0004,
    _UPDATE_TRIGGER_0004,
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "sqlite":
            return
        for statement in statements:
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("chat", "0004_search")]

    operations = [migrations.RunPython(_run(SQLITE_FORWARD), _run(SQLITE_BACKWARD))]
