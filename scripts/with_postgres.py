"""Run a command against a private, throwaway PostgreSQL server.

Usage: with_postgres.py -- COMMAND [ARG...]

SQLite forgives what PostgreSQL does not (types, locking, transactions), so
`make test` runs the tests marked `postgres` a second time on a real server:
this one, started on a free loopback port with the same part as `make cluster`
(scripts/cluster_parts.py), its role `chat` allowed to create pytest-django's
`test_chat`, a new random password each run. The command gets
DATABASE_URL=postgres://chat:...@127.0.0.1:PORT/chat; its exit code is ours,
and the server is stopped however the command ends (Ctrl-C included).

The data stay in var/pg-test between runs (initdb only once). A server or a
postmaster.pid left by a killed run is cleared first. A second run while one is
in progress gets a temporary folder of its own instead of waiting.
"""

import fcntl
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from cluster_parts import (
    DB_NAME,
    DB_USER,
    ROOT,
    STOP_TIMEOUT_SECONDS,
    Postgres,
    alive,
    wait_until,
)

VAR = ROOT / "var"
FOLDER = VAR / "pg-test"


class Server:
    """What a cluster_parts part needs of its cluster: a folder and a port."""

    def __init__(self, folder: Path, port: int):
        self.folder = folder
        self.layout = {"postgres": port}

    def rel(self, path: Path) -> str:
        return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def free_port() -> int:
    """A loopback port nothing listens on at the moment."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_server(postgres: Postgres) -> bool:
    """Fast shutdown of any server running on our data directory; True if one ran.

    Found by command line, not by postmaster.pid, which a killed run may leave
    naming a PID since reused. Signalled directly, not through `pg_ctl stop`:
    the server has a session of its own, but a Ctrl-C would reach pg_ctl too.
    """
    marker = postgres.marker()
    pids = [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and alive(int(entry.name), marker)
    ]
    for pid in pids:
        os.kill(pid, signal.SIGINT)  # fast shutdown: clients are disconnected
    try:
        wait_until(
            lambda: not any(alive(pid, marker) for pid in pids),
            "PostgreSQL stopping",
            STOP_TIMEOUT_SECONDS,
        )
    except SystemExit:
        for pid in pids:
            if alive(pid, marker):
                os.kill(pid, signal.SIGKILL)
    return bool(pids)


def start(postgres: Postgres, password: str) -> None:
    """Start the server and give role `chat` the password and CREATEDB.

    CalledProcessError would print the command line, the password with it:
    failures become a SystemExit that names the log instead.
    """
    postgres.log.unlink(missing_ok=True)  # the log of this run only
    try:
        postgres.start()
    except subprocess.CalledProcessError as err:
        tail = postgres.log.read_text(errors="replace")[-3000:]
        raise SystemExit(
            f"PostgreSQL did not start ({err.returncode}):\n{tail}"
        ) from None
    try:
        postgres.ensure_database(password)
        postgres.run("psql", "-h", str(postgres.data), "-p", str(postgres.port),
                     "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-q",
                     "-c", f"ALTER ROLE {DB_USER} CREATEDB")  # fmt: skip
    except subprocess.CalledProcessError as err:
        raise SystemExit(
            f"setting up role {DB_USER} failed ({err.returncode}); "
            f"log: {postgres.cluster.rel(postgres.log)}"
        ) from None


def run(command: list[str], database_url: str) -> int:
    """Run ``command`` with DATABASE_URL set; its exit code (128+N for signal N)."""
    # A Ctrl-C reaches the command as well (same process group): wait for it to
    # finish its teardown rather than leave it midway. (A Python handler, unlike
    # SIG_IGN, is not inherited.)
    signal.signal(signal.SIGINT, lambda _signum, _frame: None)
    child = subprocess.Popen(command, env={**os.environ, "DATABASE_URL": database_url})

    def forward(signum, _frame):
        child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGHUP, forward)
    code = child.wait()
    return 128 - code if code < 0 else code


def main() -> int:
    args = sys.argv[1:]
    if not args or args[0] != "--" or len(args) < 2:
        raise SystemExit(f"usage: {Path(sys.argv[0]).name} -- COMMAND [ARG...]")
    # Until the command runs, SIGTERM and SIGHUP end us through `finally` too.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda signum, _frame: sys.exit(128 + signum))
    VAR.mkdir(exist_ok=True)
    lock = open(VAR / "pg-test.lock", "w")  # noqa: SIM115 (held until exit)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        folder, temporary = FOLDER, False
    except BlockingIOError:
        folder, temporary = Path(tempfile.mkdtemp(prefix="pg-test-", dir=VAR)), True
        print(f"with_postgres: {FOLDER} is in use; using {folder}", flush=True)
    folder.mkdir(exist_ok=True)
    folder.chmod(0o755)  # under root the server runs as `postgres`
    postgres = Postgres(Server(folder, free_port()))
    try:
        if stop_server(postgres):
            print("with_postgres: stopped a server left by an earlier run", flush=True)
        postgres.pid_file.unlink(missing_ok=True)  # PostgreSQL may trust a stale one
        password = secrets.token_urlsafe(24)
        start(postgres, password)
        url = f"postgres://{DB_USER}:{password}@127.0.0.1:{postgres.port}/{DB_NAME}"
        return run(args[1:], url)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C: stop anyway
        stop_server(postgres)
        if temporary:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
