"""The original app's MySQL database, read as it is: its ``usuarios`` and its
``mensajes``, the latter streamed in batches so that a million rows never sit
in memory at once.

Nothing here writes to MySQL; the import only ever reads it.
"""

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pymysql
import pymysql.cursors

CONNECT_TIMEOUT_SECONDS = 10


class SourceError(Exception):
    """The original's database cannot be read; the message says why, in words."""


@dataclass(frozen=True)
class Location:
    """Where the original's database is. ``str()`` leaves the password out."""

    host: str
    port: int
    user: str
    password: str
    database: str

    def __str__(self):
        return f"mysql://{self.user}@{self.host}:{self.port}/{self.database}"


def location_from_url(url: str) -> Location:
    """``mysql://USER:PASS@HOST:PORT/NAME`` (also ``mariadb://``)."""
    parts = urlsplit(url)
    database = unquote(parts.path.lstrip("/"))
    if parts.scheme not in ("mysql", "mariadb") or not parts.hostname or not database:
        raise SourceError(
            "--database must look like mysql://USER:PASSWORD@HOST:PORT/NAME."
        )
    try:
        port = parts.port or 3306
    except ValueError as err:
        raise SourceError("The port in --database is not a number.") from err
    return Location(
        host=parts.hostname,
        port=port,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        database=database,
    )


def location_from_environment(environ=os.environ) -> Location:
    """The original app's own variables: DB_HOST, DB_USER, DB_PASS, DB_NAME
    (and DB_PORT, which it did not have: 3306)."""
    missing = [
        name for name in ("DB_HOST", "DB_USER", "DB_NAME") if not environ.get(name)
    ]
    if missing:
        raise SourceError(
            f"Set {', '.join(missing)} as for the original app, or pass "
            "--database mysql://USER:PASSWORD@HOST:PORT/NAME."
        )
    try:
        port = int(environ.get("DB_PORT") or 3306)
    except ValueError as err:
        raise SourceError("DB_PORT is not a number.") from err
    return Location(
        host=environ["DB_HOST"],
        port=port,
        user=environ["DB_USER"],
        password=environ.get("DB_PASS", ""),
        database=environ["DB_NAME"],
    )


@dataclass(frozen=True)
class Account:
    """A ``usuarios`` row."""

    username: str | None
    name: str | None
    role: str | None
    password_hash: str | None
    picture: str | None


@dataclass(frozen=True)
class Row:
    """A ``mensajes`` row; ``key`` is its identity across runs."""

    key: str
    sender: str | None
    recipient: str | None
    text: str | None
    sent_at: datetime | None  # aware, UTC; None when ``fecha`` is no date


class Source:
    """An open connection to the original's database and what it holds."""

    def __init__(self, location: Location, *, time_zone: str | None = None):
        self.location = location
        try:
            self._connection = pymysql.connect(
                host=location.host,
                port=location.port,
                user=location.user,
                password=location.password,
                database=location.database,
                charset="utf8mb4",
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                autocommit=True,
            )
        except pymysql.MySQLError as err:
            raise SourceError(f"Cannot connect to {location}: {_reason(err)}") from err
        try:
            self._inspect(time_zone)
        except pymysql.MySQLError as err:
            self.close()
            raise SourceError(f"Cannot read {location}: {_reason(err)}") from err

    def close(self) -> None:
        self._connection.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _inspect(self, time_zone: str | None) -> None:
        with self._connection.cursor() as cursor:
            for table in ("usuarios", "mensajes"):
                cursor.execute("SHOW TABLES LIKE %s", [table])
                if cursor.fetchone() is None:
                    raise SourceError(
                        f"{self.location} has no table {table}: is it the original "
                        "app's database?"
                    )
            cursor.execute("SHOW COLUMNS FROM mensajes")
            columns = {
                name.lower(): kind.lower() for name, kind, *_ in cursor.fetchall()
            }
            # TIMESTAMP values are read in UTC; a DATETIME holds the wall
            # clock of the server's zone when the row was written.
            cursor.execute("SELECT @@global.time_zone, @@system_time_zone")
            global_zone, system_zone = cursor.fetchone()
            cursor.execute("SET time_zone = '+00:00'")
        self.has_ids = columns.get("id", "").split("(")[0] in _INTEGER_TYPES
        self.fecha_is_timestamp = columns.get("fecha", "").startswith("timestamp")
        if self.fecha_is_timestamp:
            self.zone, self.zone_name = UTC, "UTC (a TIMESTAMP column)"
        else:
            name = time_zone or (
                system_zone if global_zone == "SYSTEM" else global_zone
            )
            self.zone = _zone(name)
            if self.zone is None:
                raise SourceError(
                    f"fecha is a DATETIME in the time zone {name!r}, which is not "
                    "known here; name it with --timezone (e.g. Europe/Madrid)."
                )
            self.zone_name = f"{name} (a DATETIME column)"

    def accounts(self) -> list[Account]:
        """Every ``usuarios`` row."""
        with self._connection.cursor() as cursor:
            cursor.execute("SELECT usuario, nombre, rol, pass, imagen FROM usuarios")
            return [Account(*row) for row in cursor.fetchall()]

    def message_count(self) -> int:
        with self._connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM mensajes")
            return cursor.fetchone()[0]

    def earliest_message(self) -> datetime | None:
        with self._connection.cursor() as cursor:
            cursor.execute("SELECT MIN(fecha) FROM mensajes")
            return self._instant(cursor.fetchone()[0])

    def message_batches(self, size: int) -> Iterator[list[Row]]:
        """Every ``mensajes`` row, oldest first, ``size`` rows at a time."""
        # Unbuffered: rows arrive as they are read, not all at once.
        with self._connection.cursor(pymysql.cursors.SSCursor) as cursor:
            if self.has_ids:
                cursor.execute(
                    "SELECT id, de_usuario, para_usuario, mensaje, fecha "
                    "FROM mensajes ORDER BY id"
                )
            else:
                cursor.execute(
                    "SELECT NULL, de_usuario, para_usuario, mensaje, fecha "
                    "FROM mensajes ORDER BY fecha"
                )
            digests = _Digests()
            while rows := cursor.fetchmany(size):
                yield [
                    Row(
                        key=str(row_id) if self.has_ids else digests.key(values),
                        sender=values[0],
                        recipient=values[1],
                        text=values[2],
                        sent_at=self._instant(values[3]),
                    )
                    for row_id, *values in rows
                ]

    def _instant(self, value) -> datetime | None:
        # A zero date ('0000-00-00') arrives as a string or None.
        if not isinstance(value, datetime):
            return None
        return value.replace(tzinfo=self.zone).astimezone(UTC)


_INTEGER_TYPES = {"int", "bigint", "mediumint", "smallint", "tinyint"}
_OFFSET = re.compile(r"^([+-])(\d{1,2}):(\d{2})$")


def _zone(name: str | None) -> tzinfo | None:
    if not name:
        return None
    offset = _OFFSET.match(name)
    if offset:
        sign, hours, minutes = offset.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        return timezone(-delta if sign == "-" else delta)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


class _Digests:
    """Row keys for a ``mensajes`` without ids: a digest of the row's values
    and of how many equal rows came before it, so that two identical
    messages in the same second are two rows, in every run alike.

    Rows come ordered by ``fecha``, and equal rows share it: the counts of
    one second are all that must be remembered.
    """

    def __init__(self):
        self._second = None
        self._seen: dict[bytes, int] = {}

    def key(self, values: list) -> str:
        sender, recipient, text, fecha = values
        if fecha != self._second:
            self._second, self._seen = fecha, {}
        digest = hashlib.sha256(
            "\x1f".join(
                str(value) for value in (sender, recipient, fecha, text)
            ).encode("utf-8", "surrogatepass")
        ).digest()
        occurrence = self._seen.get(digest, 0)
        self._seen[digest] = occurrence + 1
        return "sha256:" + hashlib.sha256(digest + b"#%d" % occurrence).hexdigest()[:57]


def _reason(err: pymysql.MySQLError) -> str:
    # PyMySQL's errors are (code, text); the text never holds the password.
    if len(err.args) >= 2:
        return str(err.args[1])
    return str(err)
