"""The one way instants are written on the wire: ISO 8601, UTC, milliseconds, ``Z``."""

from datetime import UTC, datetime


def iso_utc(moment: datetime) -> str:
    """Format an aware datetime as ``2026-11-28T21:48:49.123Z``."""
    # Most instants are UTC already (the database's): skipping astimezone()
    # halves the cost, which adds up over a page of messages.
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_utc_stored(value: datetime | str) -> str:
    """Format an instant as a raw query returns it: stored in UTC (USE_TZ),
    so naive from Django's SQLite cursor and text from a bare sqlite3 one."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return iso_utc(value)
