"""A private PostgreSQL server for ``--database postgres``, with the history
data set loaded once and kept between runs.

The server is ``make cluster``'s part (scripts/cluster_parts.py ``Postgres``),
its data in var/bench/pg, on a free loopback port, pinned to the servers'
core (the application server and its database share one core, as SQLite
shares the application's process). Role ``chat`` signs in over TCP with a
new password each run; it may create databases.

Database ``bench_history`` holds the data set, copied from the cached SQLite
file (``servers.history_database``) so that both databases hold the same
rows: migrated first (tables, functions, GIN indexes), then the secondary
indexes and foreign keys of the loaded tables dropped, the rows sent with
COPY, the indexes and keys created again from their own definitions,
``VACUUM ANALYZE``. Its comment records the key it was built for (the
SQLite file's key, the migrated schema, the server's version); another key
rebuilds it. Each server under test gets a throwaway copy
(``CREATE DATABASE ... TEMPLATE bench_history``), dropped when it stops.
"""

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from bench import servers

sys.path.insert(0, str(servers.ROOT / "scripts"))
# The part of `make cluster`, started and stopped as `make test`'s private
# server is (scripts/with_postgres.py).
from cluster_parts import DB_USER, Postgres
from with_postgres import Server, stop_server
from with_postgres import start as start_server

FOLDER = servers.VAR  # var/bench: the part keeps its data in FOLDER/pg
DATABASE = "bench_history"
SCRATCH = "bench_schema"  # migrated each run: its schema is the key
LOAD_FORMAT = 1  # bump when the loading changes what the database holds


class BenchPostgres:
    """Started by ``start()``, stopped by ``stop()`` (always: the caller's finally)."""

    def __init__(self, core: int, progress):
        self.core = core
        self.progress = progress
        FOLDER.mkdir(parents=True, exist_ok=True)
        FOLDER.chmod(0o755)  # under root the server runs as `postgres`
        self.part = Postgres(Server(FOLDER, servers.free_port()))
        self.password = secrets.token_urlsafe(24)
        self.figures: dict = {}
        self._copies = 0
        self._lock = None

    # -- the server ------------------------------------------------------------

    def start(self) -> None:
        """Start the server (initdb the first time); role ``chat`` gets this
        run's password and CREATEDB (scripts/with_postgres.py ``start``)."""
        self._lock = open(FOLDER / "pg.lock", "w")  # noqa: SIM115 (held until stop)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise servers.ServerFailed(
                f"another benchmark run uses {self.part.data}"
            ) from None
        # A server an interrupted run left behind (found by its -D folder).
        if stop_server(self.part):
            self.progress.note("postgres: stopped a server left by an earlier run")
        self.progress.update("postgres: starting (initdb the first time)")
        try:
            start_server(self.part, self.password)
        except SystemExit as err:
            raise servers.ServerFailed(str(err)) from None

    def psql(self, sql: str, database: str = "postgres") -> str:
        """``sql`` as the superuser (peer authentication on the socket)."""
        return self.part.run(
            "psql", "-h", str(self.part.data), "-p", str(self.part.port),
            "-d", database, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql,
            stdout=subprocess.PIPE, text=True,
        ).stdout  # fmt: skip

    def postmaster_pid(self) -> int | None:
        return self.part.pid()

    def pids(self) -> list[int]:
        """The postmaster and its children (backends come and go)."""
        pid = self.postmaster_pid()
        if pid is None:
            return []
        out = [pid]
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                out.append(int(entry.name))
        return out

    def pin(self) -> None:
        """The server's processes on the servers' core (after the load, which
        uses every core); backends forked later inherit the postmaster's
        affinity."""
        for pid in self.pids():
            with contextlib.suppress(OSError):  # a backend that just ended
                os.sched_setaffinity(pid, {self.core})

    def cpu_seconds(self) -> float:
        """CPU of the whole server so far: the postmaster, the backends it has
        reaped (its cutime/cstime) and those still running."""
        pid = self.postmaster_pid()
        total = 0.0
        for p in self.pids():
            try:
                with open(f"/proc/{p}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks = int(fields[11]) + int(fields[12])
            if p == pid:
                ticks += int(fields[13]) + int(fields[14])
            total += ticks / servers.CLK_TCK
        return total

    def stop(self) -> None:
        try:
            self.part.stop()
        except subprocess.CalledProcessError:
            self.progress.note(f"postgres: could not stop the server in {FOLDER}")
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def url(self, database: str) -> str:
        return (
            f"postgres://{DB_USER}:{self.password}@127.0.0.1:{self.part.port}/"
            f"{database}"
        )

    def connect(self, database: str, **kwargs):
        import psycopg

        return psycopg.connect(
            host="127.0.0.1",
            port=self.part.port,
            dbname=database,
            user=DB_USER,
            password=self.password,
            **kwargs,
        )

    # -- the data set ----------------------------------------------------------

    def history(self, sqlite_path: Path, sqlite_key: str, env: dict) -> bool:
        """``bench_history`` loaded from ``sqlite_path``; True when it was kept.

        Keyed like the SQLite file, by schema: a scratch database is migrated
        (a few seconds) and its ``pg_dump --schema-only`` hashed with the
        SQLite file's key and the server's version. A new key loads the
        scratch database, which becomes ``bench_history``.
        """
        started = time.monotonic()
        self.psql(f"DROP DATABASE IF EXISTS {SCRATCH} WITH (FORCE)")
        self.psql(f"CREATE DATABASE {SCRATCH} OWNER {DB_USER}")
        self.progress.update("postgres: migrating a scratch database")
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=servers.ROOT,
            env={**servers.BASE_ENV, **env, "DATABASE_URL": self.url(SCRATCH)},
            check=True,
            timeout=600,
        )
        migrated = time.monotonic() - started
        schema = self.part.run(
            "pg_dump", "-h", str(self.part.data), "-p", str(self.part.port),
            "--schema-only", "--no-owner", SCRATCH, stdout=subprocess.PIPE,
        ).stdout  # fmt: skip
        version = self.psql("SHOW server_version_num").strip()
        # Without \restrict and \unrestrict: their key is random in each dump
        # (pg_dump from 15.14, 16.10, 17.6 on).
        schema = b"\n".join(
            line
            for line in schema.splitlines()
            if not line.startswith((b"\\restrict", b"\\unrestrict"))
        )
        digest = hashlib.sha256(schema).hexdigest()[:16]
        key = f"{sqlite_key}-{digest}-{version}-{LOAD_FORMAT}"
        kept = self.kept()
        if kept.get("key") == key:
            self.psql(f"DROP DATABASE {SCRATCH} WITH (FORCE)")
            self.figures = kept
            return True
        self.psql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        self.psql(f"ALTER DATABASE {SCRATCH} RENAME TO {DATABASE}")
        phases = load(self, sqlite_path, self.progress)
        self.figures = {
            "key": key,
            "built_s": round(time.monotonic() - started, 1),
            "migrate_s": round(migrated, 1),
            **phases,
        }
        comment = json.dumps(self.figures).replace("'", "''")
        self.psql(f"COMMENT ON DATABASE {DATABASE} IS '{comment}'")
        return False

    def kept(self) -> dict:
        """What the comment of ``bench_history`` says of it ({} if none)."""
        comment = self.psql(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database "  # noqa: S608 (a constant)
            f"WHERE datname = '{DATABASE}'"
        ).strip()
        try:
            return json.loads(comment) if comment else {}
        except ValueError:
            return {}

    def throwaway_copy(self) -> tuple[str, str]:
        """A copy of ``bench_history`` for one server: (its URL, its name)."""
        self._copies += 1
        name = f"bench_run_{os.getpid()}_{self._copies}"
        self.psql(
            f"CREATE DATABASE {name} OWNER {DB_USER} TEMPLATE {DATABASE} "
            "STRATEGY FILE_COPY"
        )
        return self.url(name), name

    def drop(self, name: str) -> None:
        self.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _sqlite_tables(db: sqlite3.Connection) -> dict[str, list[str]]:
    tables = {}
    for (name,) in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' "
        "AND name NOT LIKE 'sqlite_%' AND sql NOT LIKE 'CREATE VIRTUAL TABLE%'"
    ).fetchall():
        tables[name] = [row[1] for row in db.execute(f'PRAGMA table_info("{name}")')]
    return tables


def load(pg: BenchPostgres, sqlite_path: Path, progress) -> dict:
    """Copy the rows of every table the migrations left empty in PostgreSQL
    (users, messages, threads, read marks) from the SQLite file; the
    secondary indexes and foreign keys of those tables are made after."""
    phases: dict[str, float] = {}
    lite = sqlite3.connect(sqlite_path)
    with pg.connect(DATABASE, autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute("SET TIME ZONE 'UTC'")
        cur.execute("SET maintenance_work_mem = '1GB'")
        cur.execute("SET synchronous_commit = off")
        pg_columns: dict[str, list[str]] = {}
        cur.execute(
            # Generated columns (the search documents) fill themselves in.
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND is_generated = 'NEVER' "
            "ORDER BY table_name, ordinal_position"
        )
        for table, column in cur.fetchall():
            pg_columns.setdefault(table, []).append(column)
        tables = []
        for table, columns in _sqlite_tables(lite).items():
            if table not in pg_columns:
                continue
            if not lite.execute(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone():  # noqa: S608
                continue
            cur.execute(f'SELECT 1 FROM "{table}" LIMIT 1')  # noqa: S608
            if cur.fetchone():  # filled by the migrations (content types ...)
                continue
            if set(columns) != set(pg_columns[table]):
                raise servers.ServerFailed(
                    f"{table}: columns differ between SQLite {sorted(columns)} "
                    f"and PostgreSQL {sorted(pg_columns[table])}"
                )
            tables.append(table)
        cur.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE contype = 'f' "
            "AND conrelid = ANY(%s::text[]::regclass[])",
            [tables],
        )
        foreign_keys = cur.fetchall()
        cur.execute(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) "
            "FROM pg_index WHERE indrelid = ANY(%s::text[]::regclass[]) "
            "AND NOT EXISTS "
            "(SELECT FROM pg_constraint c WHERE c.conindid = indexrelid)",
            [tables],
        )
        indexes = cur.fetchall()
        for table, name, _ in foreign_keys:
            cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            cur.execute(f"DROP INDEX {name}")

        started = time.monotonic()
        for table in tables:
            columns = pg_columns[table]
            names = ", ".join(f'"{c}"' for c in columns)
            total = lite.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]  # noqa: S608
            rows = lite.execute(f'SELECT {names} FROM "{table}" ORDER BY rowid')  # noqa: S608
            with cur.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                for n, row in enumerate(rows, 1):
                    copy.write_row(row)
                    if n % 50_000 == 0:
                        progress.update(f"postgres: COPY {table} {n:,} / {total:,}")
            for column in columns:
                cur.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, column])
                sequence = cur.fetchone()[0]
                if sequence:
                    cur.execute(
                        f'SELECT setval(%s, (SELECT max("{column}") FROM "{table}"))',  # noqa: S608
                        [sequence],
                    )
        phases["copy_s"] = round(time.monotonic() - started, 1)

        started = time.monotonic()
        for name, definition in indexes:
            progress.update(f"postgres: CREATE INDEX {name}")
            began = time.monotonic()
            cur.execute(definition)
            phases[f"index {name} s"] = round(time.monotonic() - began, 1)
        for table, name, definition in foreign_keys:
            progress.update(f"postgres: foreign key {name}")
            cur.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        phases["indexes_s"] = round(time.monotonic() - started, 1)

        started = time.monotonic()
        progress.update("postgres: VACUUM ANALYZE")
        for table in tables:
            cur.execute(f'VACUUM (ANALYZE) "{table}"')
        phases["vacuum_analyze_s"] = round(time.monotonic() - started, 1)
        phases["tables"] = tables
    lite.close()
    return phases
