"""Which rows of the original app's database were imported, so that a second
run of ``manage.py import_original`` skips them.

Plain ids rather than foreign keys: deleting an imported account or message
here must not make the next run import it again, and the import's own
tables must cost the live chat nothing (no index to keep on its rows).
"""

from django.db import models


class ImportedAccount(models.Model):
    """A ``usuarios`` row, by its ``usuario``, and the account it became."""

    username = models.CharField(max_length=255, primary_key=True)
    # The account made from it; it may have been deleted here since.
    user_id = models.BigIntegerField()
    imported_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.username} -> account {self.user_id}"


class ImportedMessage(models.Model):
    """A ``mensajes`` row and the message it became.

    ``key`` is the row's ``id`` when the original table has one, else a
    digest of its values and of how many equal rows came before it
    (``legacy.source``).
    """

    key = models.CharField(max_length=64, primary_key=True)
    message_id = models.BigIntegerField()

    def __str__(self):
        return f"{self.key} -> message {self.message_id}"
