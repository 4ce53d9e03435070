"""The one way instants are written on the wire: ISO 8601, UTC, milliseconds, ``Z``."""

from datetime import UTC, datetime


def iso_utc(moment: datetime) -> str:
    """Format an aware datetime as ``2026-11-28T21:48:49.123Z``."""
    return (
        moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )
