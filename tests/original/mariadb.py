"""A private MariaDB server for the import tests (issue 16): Debian's
mariadb-server, a data directory in a temporary folder, a free loopback
port, stopped at the end. Like scripts/with_postgres.py does for PostgreSQL.

Tried by hand (10.11.19): mariadb-install-db --no-defaults --datadir=D
--user=root --auth-root-authentication-method=normal --skip-test-db, then
mariadbd --no-defaults --datadir=D --socket=S --port=P
--bind-address=127.0.0.1 --user=root --skip-log-bin --pid-file=F; ready in
about 3 s; root connects over the socket without a password.
"""

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

MARIADBD = Path("/usr/sbin/mariadbd")
READY_WITHIN_SECONDS = 30
DATABASE, USER, PASSWORD = "chat_original", "original", "original-pw"


@dataclass(frozen=True)
class MariaDB:
    port: int
    socket_path: Path

    @property
    def url(self) -> str:
        return f"mysql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{DATABASE}"

    def sql(self, statements: str) -> str:
        """Run ``statements`` as root; their output."""
        done = subprocess.run(
            ["mariadb", "--no-defaults", "-S", str(self.socket_path), "-uroot",
             "-e", statements],
            capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
        return done.stdout


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_mariadb(folder: Path) -> Iterator[MariaDB]:
    if not MARIADBD.exists():
        raise RuntimeError(
            f"{MARIADBD} is missing: run `make test`, which installs it "
            "(scripts/install-system-packages.sh mariadb-server)."
        )
    data, sock, pid = folder / "data", folder / "sock", folder / "pid"
    shutil.rmtree(data, ignore_errors=True)
    subprocess.run(
        ["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root",
         "--auth-root-authentication-method=normal", "--skip-test-db"],
        capture_output=True, check=True, timeout=120,
    )  # fmt: skip
    port = _free_port()
    with open(folder / "server.log", "ab") as log:
        server = subprocess.Popen(
            [str(MARIADBD), "--no-defaults", f"--datadir={data}",
             f"--socket={sock}", f"--port={port}", "--bind-address=127.0.0.1",
             "--user=root", "--skip-log-bin", f"--pid-file={pid}"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    db = MariaDB(port, sock)
    try:
        deadline = time.monotonic() + READY_WITHIN_SECONDS
        while True:
            try:
                db.sql("SELECT 1")
                break
            except subprocess.CalledProcessError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        db.sql(
            f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4; "
            f"CREATE USER '{USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'; "
            f"GRANT ALL ON {DATABASE}.* TO '{USER}'@'127.0.0.1';"
        )
        yield db
    finally:
        server.terminate()
        server.wait(timeout=30)
