"""``manage.py import_original``: the original app's accounts and messages,
read from its MySQL database, imported here; safe to run again.

The steps, each in its module: read MySQL (``legacy.source``), create the
accounts (``legacy.accounts``), store the messages batch by batch
(``legacy.messages``), then bring the conversations (``legacy.threads``)
and the search index (``chat.search_index``) up to date. README: "Moving
from the original app".
"""

import sys
import time
from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from chat import search_index
from legacy import accounts, messages, threads
from legacy.report import Report
from legacy.source import (
    Source,
    SourceError,
    location_from_environment,
    location_from_url,
)

# Accounts are dated before every token the original can still have minted
# for them: its earliest message, and at least this long ago.
TOKENS_REACH_BACK = timedelta(days=365)
LOG_EVERY_SECONDS = 10


class Command(BaseCommand):
    help = (
        "Import the original app's accounts (passwords kept) and messages from "
        "its MySQL database. Safe to run again: only new rows are imported."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--database",
            metavar="URL",
            help="mysql://USER:PASSWORD@HOST:PORT/NAME; default: the original's "
            "DB_HOST, DB_USER, DB_PASS, DB_NAME (and DB_PORT) variables.",
        )
        parser.add_argument(
            "--admins",
            metavar="A,B,C",
            help="The rol 'admin' rows to import as admins (--admins '' for "
            "none). Other 'admin' rows become users: the original let anyone "
            "register as admin. Required when there are 'admin' rows.",
        )
        parser.add_argument(
            "--trust-admin-role",
            action="store_true",
            help="Import every rol 'admin' row as an admin.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Report what would be imported; change nothing.",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=5000,
            help="Messages per transaction (default 5000).",
        )
        parser.add_argument(
            "--timezone",
            metavar="ZONE",
            help="The zone of a DATETIME fecha (e.g. Europe/Madrid); default: "
            "the MySQL server's. A TIMESTAMP fecha needs none.",
        )
        parser.add_argument(
            "--no-progress", action="store_true", help="No progress bar or lines."
        )

    def handle(self, *args, **options):
        started = time.monotonic()
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        admins = options["admins"]
        if admins is not None:
            admins = [name.strip() for name in admins.split(",") if name.strip()]
        if admins is not None and options["trust_admin_role"]:
            raise CommandError("Give --admins or --trust-admin-role, not both.")
        try:
            location = (
                location_from_url(options["database"])
                if options["database"]
                else location_from_environment()
            )
            with Source(location, time_zone=options["timezone"]) as source:
                report = self._import(source, admins, options)
        except (SourceError, accounts.AdminChoiceError) as err:
            raise CommandError(str(err)) from err
        report.seconds = time.monotonic() - started
        self.stdout.write(report.text(), ending="")

    def _import(self, source: Source, admins: list[str], options) -> Report:
        dry_run = options["dry_run"]
        report = Report(
            source=str(source.location), dry_run=dry_run, zone=source.zone_name
        )
        rows = source.accounts()
        admin_rows = sorted(row.username for row in rows if row.role == accounts.TEAM)
        if admins is None and not options["trust_admin_role"] and admin_rows:
            shown = ", ".join(admin_rows[:10]) + (", …" if len(admin_rows) > 10 else "")
            message = (
                f"usuarios has {len(admin_rows)} rows with rol 'admin' ({shown}), "
                "and the original let anyone register as admin: name the real "
                "team with --admins a,b,c (--admins '' for none), or give "
                "--trust-admin-role."
            )
            if not dry_run:
                raise CommandError(message)
            self.stderr.write(message + " This dry run takes them as users.")
        chosen = accounts.admin_choice(rows, admins or [], options["trust_admin_role"])
        if options["trust_admin_role"]:
            self.stderr.write(
                "--trust-admin-role: every rol 'admin' row becomes an admin, "
                "including any that registered themselves as one."
            )
        earliest = source.earliest_message()
        joined = datetime.now(UTC) - TOKENS_REACH_BACK
        if earliest is not None:
            joined = min(joined, earliest)
        directory = accounts.import_accounts(
            rows, admins=chosen, joined=joined, report=report, dry_run=dry_run
        )
        total = source.message_count()
        with self._progress(total, "messages", options) as advance:
            for batch in source.message_batches(options["batch_size"]):
                messages.import_batch(batch, directory, report, dry_run=dry_run)
                advance(len(batch))
        if not dry_run:
            stale = threads.stale_threads()
            with self._progress(len(stale), "conversations", options) as advance:
                report.threads_updated = threads.bring_up_to_date(stale, advance)
            # Now rather than in the first search after the import.
            search_index.catch_up()
        return report

    def _progress(self, total: int, unit: str, options):
        """A bar on a terminal; a plain line every few seconds in a log."""
        if options["no_progress"]:
            return _Quiet()
        if self.stderr.isatty():
            return _Bar(total, unit, self.stderr._out)
        return _Lines(total, unit, self.stderr)


class _Quiet:
    def __enter__(self):
        return lambda n: None

    def __exit__(self, *exc):
        return False


class _Bar:
    def __init__(self, total, unit, stream):
        self.bar = tqdm(
            total=total, unit=f" {unit}", unit_scale=True, file=stream or sys.stderr
        )

    def __enter__(self):
        return self.bar.update

    def __exit__(self, *exc):
        self.bar.close()
        return False


class _Lines:
    def __init__(self, total, unit, stream):
        self.total, self.unit, self.stream = total, unit, stream
        self.done, self.last = 0, time.monotonic()

    def _advance(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if now - self.last >= LOG_EVERY_SECONDS:
            self.last = now
            self.stream.write(f"{self.unit}: {self.done:,} of {self.total:,}")

    def __enter__(self):
        return self._advance

    def __exit__(self, *exc):
        if self.total:
            self.stream.write(f"{self.unit}: {self.done:,} of {self.total:,}, done")
        return False
