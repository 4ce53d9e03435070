"""The servers under test: databases and accounts, start/stop, CPU and memory.

Every server runs as production would, pinned to one core with
``taskset -c <core>``: ours as one daphne (or uvicorn) process with DEBUG off,
auth and SQLite persistence on, on a throwaway copy of a migrated database;
the original as ``node server.js`` with ``PERSIST=1``. CPU is read from
``/proc/<pid>/stat`` (utime + stime of every thread of the process) and
memory from ``/proc/<pid>/status`` (VmRSS).
"""

import hashlib
import os
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import dataset

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
# The original Node app, rebuilt faithfully, kept here to measure against.
ORIGINAL_SRC = ROOT / "bench" / "original-node"
ORIGINAL_DIR = VAR / "original-node"
BIN = Path(sys.executable).parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
# The environment servers inherit, taken before this process configures its
# own Django (whose LOG_LEVEL and DATABASE_URL are not the servers').
BASE_ENV = dict(os.environ)

N_ADMINS = 5
ADMINS = [f"bench-admin-{i}" for i in range(N_ADMINS)]  # not "admin": README quirk
HISTORY_MESSAGES = dataset.MESSAGES
HISTORY_THREADS = dataset.HISTORY_THREADS
MIN_USERS = 2000


# uvicorn's --ws for each server variant: "uvicorn" is README's command
# (chatproject.websocket, frames built once per fan-out); the others are
# uvicorn's stock protocols, to measure against.
UVICORN_WS_PROTOCOLS = {
    "uvicorn": "chatproject.websocket.uvicorn_protocol:SharedFrameProtocol",
    "uvicorn-wsproto": "wsproto",
    "uvicorn-sansio": "websockets-sansio",
}


def user_name(i: int) -> str:
    return f"bench-u{i:05d}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerFailed(Exception):
    pass


# -- the process ---------------------------------------------------------------------


@dataclass
class ServerProcess:
    label: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    log_path: Path
    port: int
    core: int
    process: subprocess.Popen | None = None
    # A PostgreSQL target: the database server's CPU counts as the server's
    # (it shares the core), and its throwaway database goes when we stop.
    database_cpu: Callable[[], float] | None = None
    on_stop: Callable[[], None] | None = None

    def start(self, timeout: float = 60.0) -> "ServerProcess":
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                # chrt --other: never SCHED_FIFO like the generator (it would
                # distort the servers: Node's main thread then spins at 95% CPU
                # waiting for its helper threads on the same core); the
                # niceness of this process is inherited.
                ["chrt", "--other", "0", "taskset", "-c", str(self.core), *self.argv],
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise ServerFailed(
                    f"{self.label} exited with {self.process.returncode}:\n"
                    + self.log_tail()
                )
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise ServerFailed(
                        f"{self.label} did not listen within {timeout:.0f} s:\n"
                        + self.log_tail()
                    ) from None
                time.sleep(0.05)

    @property
    def pid(self) -> int:
        return self.process.pid  # taskset execs the server: same pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def cpu_seconds(self) -> float:
        """User + system CPU of the whole process (all threads) so far, and of
        its database server when it has one of its own (PostgreSQL)."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        own = (int(fields[11]) + int(fields[12])) / CLK_TCK
        return own + (self.database_cpu() if self.database_cpu else 0.0)

    def rss_kib(self) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise ServerFailed("no VmRSS")

    def settle(self, quiet: float = 0.05, window: float = 0.3, timeout: float = 15):
        """Wait (bounded) until the server's CPU use falls below ``quiet``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            before = self.cpu_seconds()
            time.sleep(window)
            if (self.cpu_seconds() - before) / window < quiet:
                return

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.on_stop is not None:
            on_stop, self.on_stop = self.on_stop, None
            on_stop()


def core_busy_seconds(core: int) -> float:
    """Time ``core`` spent running processes (any) or stolen by the hypervisor, so far.

    Interrupt and softirq time is left out: the loopback traffic of the
    benchmark itself is processed there.
    """
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{core} "):
                # user nice system idle iowait irq softirq steal
                v = [int(x) for x in line.split()[1:9]]
                return (v[0] + v[1] + v[2] + v[7]) / CLK_TCK
    return 0.0


# -- the targets ---------------------------------------------------------------------


@dataclass
class Target:
    """A server to measure: ours on one ASGI server, or the original."""

    key: str  # "ours-daphne", "ours-uvicorn+coalesce", "original"
    label: str
    kind: str  # "ours" | "original"
    server: str  # "daphne" | "uvicorn" | "node"
    workdir: Path
    core: int
    env: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    # Ours only: the benchmark's sockets connect with ?coalesce=1 (docs/api.md).
    coalesce: bool = False
    # Ours only: "sqlite", or "postgres" (a bench.pg.BenchPostgres in ``postgres``).
    database: str = "sqlite"
    postgres: Any = None
    _runs: int = 0

    def display_command(self) -> str:
        argv = self.command("PORT")
        env = (
            "JWT_SECRET=... PORT=PORT PERSIST=1 DB_PATH=... "
            if self.kind == "original"
            else "DATABASE_URL=postgres://chat:...@127.0.0.1:PGPORT/<a copy of "
            "bench_history> "
            if self.database == "postgres"
            else ""
        )
        return f"{env}taskset -c {self.core} " + " ".join(
            [Path(argv[0]).name, *argv[1:]]
        )

    def command(self, port: int | str) -> list[str]:
        if self.server == "daphne":
            return [
                str(BIN / "daphne"),
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "chatproject.asgi:application",
            ]
        if self.server in UVICORN_WS_PROTOCOLS:
            return [
                str(BIN / "uvicorn"),
                "chatproject.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--ws",
                UVICORN_WS_PROTOCOLS[self.server],
                "--ws-per-message-deflate",
                "false",
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--lifespan",
                "off",
                "--no-access-log",
                # As README's "Production": Django, not uvicorn, reads proxy headers.
                "--no-proxy-headers",
            ]
        if self.server == "node":
            return ["node", "server.js"]
        raise ValueError(self.server)

    def start(self, database: Path | None = None) -> ServerProcess:
        """A fresh server process on a free port, on a fresh copy of the database
        (PostgreSQL: of ``bench_history``, whatever ``database`` says)."""
        self._runs += 1
        port = free_port()
        env = {**BASE_ENV, **self.env}
        database_cpu = on_stop = None
        if self.database == "postgres":
            url, name = self.postgres.throwaway_copy()
            env["DATABASE_URL"] = url
            cwd = ROOT
            database_cpu = self.postgres.cpu_seconds
            on_stop = lambda: self.postgres.drop(name)  # noqa: E731
        elif self.kind == "ours":
            db = self.workdir / f"{self.key}-{self._runs}.sqlite3"
            if database is None:
                copy_sqlite(self.workdir / "template.sqlite3", db)
            else:  # a cached database: serve a throwaway copy of it
                db = self.workdir / f"{self.key}-{self._runs}-{database.name}"
                shutil.copyfile(database, db)
            env["DATABASE_URL"] = f"sqlite:///{db}"
            cwd = ROOT
        else:
            env.update(
                PORT=str(port),
                HOST="127.0.0.1",
                PERSIST="1",
                DB_PATH=str(self.workdir / f"original-{self._runs}.sqlite3"),
            )
            cwd = ORIGINAL_DIR
        server = ServerProcess(
            label=self.label,
            argv=self.command(port),
            env=env,
            cwd=cwd,
            log_path=self.workdir / f"{self.key}.log",
            port=port,
            core=self.core,
            database_cpu=database_cpu,
            on_stop=on_stop,
        )
        try:
            return server.start()
        except BaseException:
            server.stop()
            raise


def copy_sqlite(src: Path, dst: Path) -> None:
    """A consistent copy (WAL content included) through SQLite's backup API."""
    with sqlite3.connect(src) as source, sqlite3.connect(dst) as dest:
        source.backup(dest)
    source.close()
    dest.close()


# -- our database, accounts and tokens -------------------------------------------------


def django_env(workdir: Path) -> dict[str, str]:
    """Production settings for ours: DEBUG off, secrets set, HTTP on loopback."""
    return {
        "DJANGO_SETTINGS_MODULE": "chatproject.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "JWT_SECRET": secrets.token_urlsafe(40),
        "JWT_COOKIE_SECURE": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{workdir / 'template.sqlite3'}",
    }


def prepare_ours(workdir: Path, n_users: int) -> tuple[dict[str, str], dict[str, str]]:
    """Migrate a template database, create the accounts; return (env, tokens).

    Done in this process through Django, as scripts/measure_latency.py does.
    Users are bulk-created (no password: tokens are minted directly).
    """
    env = django_env(workdir)
    os.environ.update(env)
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # this process only
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import connection

    from accounts import tokens
    from accounts.models import Role, User

    call_command("migrate", verbosity=0, interactive=False)
    unusable = make_password(None)  # nobody signs in with a password here
    accounts = [
        User(username=name, display_name=f"Support {i}", role=Role.ADMIN)
        for i, name in enumerate(ADMINS)
    ] + [
        User(username=user_name(i), display_name=f"User {i}", role=Role.USER)
        for i in range(n_users)
    ]
    for user in accounts:
        user.password = unusable
    User.objects.bulk_create(accounts, batch_size=500)
    issued = {user.username: tokens.issue(user).token for user in User.objects.all()}
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    env.pop("DATABASE_URL")
    return env, issued


def schema_key() -> str:
    """The cached history database's key: the migrated schema's SQL, the
    users, and the shape of the generated data (``dataset.FORMAT``)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL "
            "ORDER BY type, name"
        )
        schema = repr(cursor.fetchall())
        cursor.execute("SELECT id, username, role FROM accounts_user ORDER BY id")
        users = repr(cursor.fetchall())
    connection.close()
    text = (
        f"{dataset.FORMAT}|{dataset.MESSAGES}|{dataset.THREADS}|"
        f"{dataset.HISTORY_THREADS}|{dataset.HISTORY_SHARE}|{schema}|{users}"
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def history_database(workdir: Path, progress) -> tuple[Path, str, bool]:
    """The template plus the history data set (bench/dataset.py), cached under
    var/bench/ by schema. Returns (path, key, was it cached?); the servers get
    a copy of it (``Target.start``), PostgreSQL its rows (``bench.pg``). The
    data set's figures are kept beside it (``history_figures``)."""
    key = schema_key()
    cached = VAR / f"history-{key}.sqlite3"
    if cached.exists():
        return cached, key, True
    VAR.mkdir(parents=True, exist_ok=True)
    for stale in VAR.glob("history-*.sqlite3*"):  # other schemas: no longer useful
        stale.unlink()
    building = VAR / f"history-{key}.sqlite3.building"
    building.unlink(missing_ok=True)
    copy_sqlite(workdir / "template.sqlite3", building)
    figures = dataset.build(
        building, admins=ADMINS, user_name=user_name, progress=progress
    )
    dataset.write_figures(cached.with_suffix(".sqlite3.json"), figures)
    building.rename(cached)
    return cached, key, False


def history_figures(path: Path) -> dict:
    """What ``history_database`` wrote about the data set at ``path``."""
    return dataset.read_figures(path.with_suffix(".sqlite3.json"))


history_thread_ids = dataset.history_thread_ids


# -- the original -------------------------------------------------------------------


def prepare_original(progress) -> None:
    """A writable copy of the shared original in var/bench/; ``npm ci`` done once."""
    if not (ORIGINAL_SRC / "server.js").exists():
        raise ServerFailed(f"the original is not at {ORIGINAL_SRC}")
    if shutil.which("node") is None:
        raise ServerFailed("node is not installed")
    ORIGINAL_DIR.mkdir(parents=True, exist_ok=True)
    for name in ("server.js", "package.json", "package-lock.json", "README.md"):
        src, dst = ORIGINAL_SRC / name, ORIGINAL_DIR / name
        if not dst.exists() or dst.read_bytes() != src.read_bytes():
            dst.unlink(missing_ok=True)
            shutil.copyfile(src, dst)
            dst.chmod(0o644)
    lock = hashlib.sha256((ORIGINAL_DIR / "package-lock.json").read_bytes()).hexdigest()
    stamp = ORIGINAL_DIR / "node_modules" / ".bench-lock"
    if stamp.exists() and stamp.read_text() == lock:
        return
    progress.update("original: npm ci (builds better-sqlite3; about 2 minutes, once)")
    result = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund"],
        cwd=ORIGINAL_DIR,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if result.returncode != 0:
        raise ServerFailed(
            f"npm ci failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    stamp.write_text(lock)


def original_versions() -> dict[str, str]:
    out = {
        "node": subprocess.run(
            ["node", "--version"], capture_output=True, text=True
        ).stdout.strip()
    }
    for pkg in ("socket.io", "express", "better-sqlite3"):
        try:
            import json

            meta = json.loads(
                (ORIGINAL_DIR / "node_modules" / pkg / "package.json").read_text()
            )
            out[pkg] = meta["version"]
        except (OSError, ValueError, KeyError):
            pass
    return out
