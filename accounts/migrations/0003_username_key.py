"""Usernames unique ignoring case and width: the ``username_key`` column.

Added nullable, filled for the existing accounts, then made unique and
required. Accounts whose names already collide stop the migration with
their names, for an operator to rename, rather than an IntegrityError.
"""

import unicodedata
from collections import defaultdict

from django.db import migrations, models

BATCH_SIZE = 1000


class UsernameCollision(Exception):
    """Existing accounts whose usernames differ only in case or width."""


def username_key_for(username):
    # A copy of accounts.models.username_key_for: a migration must not
    # change when the model module does.
    return unicodedata.normalize("NFKC", username).casefold()


def fill_username_keys(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    db = schema_editor.connection.alias
    holders = defaultdict(list)
    batch = []
    for user in User.objects.using(db).only("pk", "username").iterator():
        user.username_key = username_key_for(user.username)
        holders[user.username_key].append(user.username)
        batch.append(user)
        if len(batch) == BATCH_SIZE:
            User.objects.using(db).bulk_update(batch, ["username_key"])
            batch = []
    User.objects.using(db).bulk_update(batch, ["username_key"])
    collisions = [names for names in holders.values() if len(names) > 1]
    if collisions:
        listed = "; ".join(", ".join(sorted(names)) for names in collisions)
        raise UsernameCollision(
            "These accounts' usernames differ only in case or width; rename all "
            "but one of each group (in the previous release's admin, or in SQL), "
            f"then migrate again: {listed}"
        )


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0002_session_end"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="username_key",
            field=models.CharField(editable=False, max_length=600, null=True),
        ),
        migrations.RunPython(fill_username_keys, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="user",
            name="username_key",
            field=models.CharField(editable=False, max_length=600, unique=True),
        ),
    ]
