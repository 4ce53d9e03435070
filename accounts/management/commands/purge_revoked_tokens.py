"""Delete revocation records of tokens that have expired anyway (cron-safe)."""

from django.core.management.base import BaseCommand

from accounts import tokens


class Command(BaseCommand):
    help = "Delete revocation records whose tokens have expired. Safe to run from cron."

    def handle(self, *args, **options):
        deleted = tokens.purge_expired()
        self.stdout.write(f"Deleted {deleted} expired revocation record(s).")
