"""The processes of `make cluster`: PostgreSQL, Redis, daphne and nginx.

Each part knows its PID file, whether the PID it names still runs the
program it was written for (a PID can be reused), and how to start and
stop itself. ``scripts/cluster.py`` puts them together.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_SECONDS = 30
STOP_TIMEOUT_SECONDS = 15
DB_NAME = DB_USER = "chat"  # also spelled out in ENSURE_DATABASE_SQL
# The password travels as a psql variable, quoted by psql itself (:'password').
ENSURE_DATABASE_SQL = """\
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'chat') THEN
    CREATE ROLE chat LOGIN;
  END IF;
END $$;
ALTER ROLE chat PASSWORD :'password';
SELECT 'CREATE DATABASE chat OWNER chat'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'chat')\\gexec
"""


def alive(pid: int | None, marker: str) -> bool:
    """Whether ``pid`` runs and its command line holds ``marker``; zombies are dead."""
    if not pid:
        return False
    proc = Path(f"/proc/{pid}")
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X") and marker in cmdline


def read_pid(path: Path) -> int | None:
    """The PID in the first line of ``path``, or None."""
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def port_free(port: int) -> bool:
    """Nothing listens on 127.0.0.1:``port``."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def wait_until(check, what: str, seconds: float = START_TIMEOUT_SECONDS) -> None:
    """Poll ``check`` until it is true; SystemExit naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} did not happen within {seconds} s")
        time.sleep(0.1)


def http_status(url: str) -> int | None:
    """The status of GET ``url`` (a loopback http:// URL), None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return None


def signal_and_wait(pid: int, marker: str) -> None:
    """SIGTERM ``pid``; SIGKILL it if it outlives the stop timeout."""
    if not alive(pid, marker):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while alive(pid, marker):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            deadline += STOP_TIMEOUT_SECONDS
        time.sleep(0.05)


class Part:
    """A process recorded in a PID file under the cluster folder."""

    name: str
    port: int
    port_option: str
    pid_file: Path

    def __init__(self, cluster):
        self.cluster = cluster

    def marker(self) -> str:
        """Text that the command line of this part's process contains."""
        raise NotImplementedError

    def pid(self) -> int | None:
        """The running process's PID, or None."""
        pid = read_pid(self.pid_file)
        return pid if alive(pid, self.marker()) else None

    def start(self) -> None:
        """Start the process and wait until it answers."""
        raise NotImplementedError

    def describe(self) -> str:
        """Where it listens and logs, for the status lines."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop the process named by the PID file, if it still runs."""
        pid = self.pid()
        if pid:
            signal_and_wait(pid, self.marker())
        self.pid_file.unlink(missing_ok=True)

    def require_free_port(self) -> None:
        """SystemExit naming the option to change when another program has the port."""
        if not port_free(self.port):
            raise SystemExit(
                f"{self.name}: port {self.port} is taken by another program; choose "
                f"another with {self.port_option} (after `scripts/cluster.py stop`)."
            )


class Postgres(Part):
    """A throwaway PostgreSQL cluster in DIR/pg; under root, run by the `postgres` user.

    PostgreSQL refuses to run as root. Its socket directory is the data
    directory, so the superuser signs in by peer authentication without a
    password; the site signs in over TCP with one (scram-sha-256).
    """

    name = "postgres"
    port_option = "--pg-port"

    def __init__(self, cluster):
        super().__init__(cluster)
        self.port = cluster.layout["postgres"]
        self.data = cluster.folder / "pg"
        self.pid_file = self.data / "postmaster.pid"
        self.log = cluster.folder / "postgres.log"
        self.run_as = "postgres" if os.geteuid() == 0 else None

    def marker(self) -> str:
        return f"-D {self.data} "

    @staticmethod
    def bin_dir() -> Path:
        """Debian's server binaries, newest version first."""
        found = sorted(
            Path("/usr/lib/postgresql").glob("*/bin/initdb"),
            key=lambda path: int(path.parent.parent.name),
        )
        if not found:
            raise SystemExit(
                "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin: "
                "run scripts/install-system-packages.sh postgresql (as root)."
            )
        return found[-1].parent

    def run(self, program: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
        """Run a PostgreSQL program as the owner of the data directory."""
        prefix = ["runuser", "-u", self.run_as, "--"] if self.run_as else []
        kwargs.setdefault("timeout", START_TIMEOUT_SECONDS + 10)
        kwargs.setdefault("stdout", subprocess.DEVNULL)
        return subprocess.run(
            [*prefix, str(self.bin_dir() / program), *args],
            check=True,
            cwd="/",
            **kwargs,
        )

    def _own(self, path: Path) -> None:
        if self.run_as:
            shutil.chown(path, self.run_as, self.run_as)

    def start(self) -> None:
        self.require_free_port()
        if not (self.data / "PG_VERSION").exists():
            self.data.mkdir(mode=0o700, exist_ok=True)
            self._own(self.data)
            self.run("initdb", "-D", str(self.data), "-E", "UTF8", "--locale=C",
                     "--auth-local=peer", "--auth-host=scram-sha-256")  # fmt: skip
        self.log.touch()
        self._own(self.log)
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.data}"
        )
        self.run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w",
                 "-t", str(START_TIMEOUT_SECONDS), "-o", options)  # fmt: skip

    def ensure_database(self, password: str) -> None:
        """Create the site's role and database if missing; set the role's password."""
        self.run("psql", "-h", str(self.data), "-p", str(self.port), "-d", "postgres",
                 "-v", "ON_ERROR_STOP=1", "-v", f"password={password}", "-q",
                 input=ENSURE_DATABASE_SQL, text=True)  # fmt: skip

    def stop(self) -> None:
        if self.pid():
            self.run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w")

    def describe(self) -> str:
        return (
            f"127.0.0.1:{self.port}, data in {self.cluster.rel(self.data)} "
            f"(log {self.cluster.rel(self.log)})"
        )


class Redis(Part):
    """redis-server on a loopback port, no persistence: the layer keeps no state."""

    name = "redis"
    port_option = "--redis-port"

    def __init__(self, cluster):
        super().__init__(cluster)
        self.port = cluster.layout["redis"]
        self.pid_file = cluster.folder / "redis.pid"
        self.log = cluster.folder / "redis.log"

    def marker(self) -> str:
        return f"redis-server 127.0.0.1:{self.port} "

    def answers(self) -> bool:
        """Redis answers PING."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        self.require_free_port()
        folder = str(self.cluster.folder)
        subprocess.run(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port),
             "--bind", "127.0.0.1", "--daemonize", "yes", "--save", "",
             "--appendonly", "no", "--pidfile", str(self.pid_file),
             "--logfile", str(self.log), "--dir", folder],
            check=True, timeout=START_TIMEOUT_SECONDS,
        )  # fmt: skip
        wait_until(lambda: self.answers() and self.pid(), "redis answering PING")

    def describe(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0 (log {self.cluster.rel(self.log)})"


class Daphne(Part):
    """One daphne process of the site, on its own loopback port."""

    port_option = "--daphne-port"

    def __init__(self, cluster, index: int, port: int):
        super().__init__(cluster)
        self.index = index
        self.port = port
        self.name = f"daphne {index}"
        self.pid_file = cluster.folder / f"daphne-{port}.pid"
        self.log = cluster.folder / f"daphne-{port}.log"
        self.url = f"http://127.0.0.1:{port}"

    def marker(self) -> str:
        return f"daphne -b 127.0.0.1 -p {self.port} "

    def start(self) -> None:
        self.require_free_port()
        daphne = Path(sys.executable).parent / "daphne"
        with self.log.open("ab") as log:
            process = subprocess.Popen(
                [str(daphne), "-b", "127.0.0.1", "-p", str(self.port),
                 "chatproject.asgi:application"],
                cwd=ROOT, env=self.cluster.process_env(), stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT,
                # Its own session: a Ctrl-C meant for `make` does not reach it.
                start_new_session=True,
            )  # fmt: skip
        self.pid_file.write_text(f"{process.pid}\n")

        def healthy() -> bool:
            if process.poll() is not None:
                tail = self.log.read_text(errors="replace")[-3000:]
                raise SystemExit(f"{self.name} exited ({process.returncode}):\n{tail}")
            return http_status(self.url + "/healthz") == 200

        wait_until(healthy, f"{self.name} answering /healthz")

    def describe(self) -> str:
        return f"{self.url} (log {self.cluster.rel(self.log)})"


class Nginx(Part):
    """nginx in front of the daphne processes, from scripts/cluster_nginx.conf."""

    name = "nginx"
    port_option = "--port"
    template = Path(__file__).with_name("cluster_nginx.conf")

    def __init__(self, cluster):
        super().__init__(cluster)
        self.port = cluster.layout["nginx"]
        self.conf = cluster.folder / "nginx.conf"
        self.pid_file = cluster.folder / "nginx.pid"
        self.url = f"http://127.0.0.1:{self.port}"

    def marker(self) -> str:
        return f"-c {self.conf}"

    def write_conf(self) -> None:
        """DIR/nginx.conf from the template, with one upstream server per daphne."""
        servers = "\n".join(
            f"        server 127.0.0.1:{daphne.port} max_fails=1 fail_timeout=10s;"
            for daphne in self.cluster.daphnes
        )
        folder = self.cluster.folder
        text = self.template.read_text().format(
            folder=folder, servers=servers, port=self.port
        )
        self.conf.write_text(text)
        (folder / "nginx-tmp").mkdir(exist_ok=True)

    def command(self, *args: str) -> list[str]:
        """nginx with its prefix and error log in the cluster folder."""
        folder = str(self.cluster.folder)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        return [nginx, "-p", folder, "-e", f"{folder}/nginx-error.log", *args]

    def start(self) -> None:
        self.require_free_port()
        self.write_conf()
        for args in (["-t", "-q", "-c", str(self.conf)], ["-c", str(self.conf)]):
            subprocess.run(
                self.command(*args), check=True, timeout=START_TIMEOUT_SECONDS
            )
        wait_until(
            lambda: self.pid() and http_status(self.url + "/healthz") == 200,
            "nginx answering /healthz",
        )

    def describe(self) -> str:
        ports = ", ".join(str(daphne.port) for daphne in self.cluster.daphnes)
        return f"{self.url} -> daphne {ports}"
