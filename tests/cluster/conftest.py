"""A private cluster for the session, started by the same script as `make cluster`
(its own folder, var/cluster-test, and free ports) and stopped at the end even
when a test fails.

These tests run with `make test-cluster` (`pytest -m cluster`); a plain
`pytest` run (`make test`) deselects them and says so in its summary.
"""

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.peer import Account, fetch
from tests.conftest import free_port

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SCRIPT = ROOT / "scripts" / "cluster.py"
FOLDER = ROOT / "var" / "cluster-test"
START_TIMEOUT_SECONDS = 240
READY_WITHIN_SECONDS = 20

sys.path.insert(0, str(SCRIPT.parent))
from cluster import Cluster  # noqa: E402
from cluster_parts import port_free  # noqa: E402

COUNTS: list[str] = []
DESELECTED: list[int] = []


def pytest_collection_modifyitems(config, items):
    """Cluster tests run only when asked for: `-m cluster`, or their path."""
    asked = "cluster" in (config.option.markexpr or "") or all(
        Path(arg.split("::")[0]).resolve().is_relative_to(HERE) for arg in config.args
    )
    if asked:
        return
    kept = [item for item in items if item.get_closest_marker("cluster") is None]
    dropped = [item for item in items if item.get_closest_marker("cluster")]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
        DESELECTED.append(len(dropped))


def pytest_terminal_summary(terminalreporter):
    """Say what was deselected, and print the message counts the tests reported."""
    if DESELECTED:
        terminalreporter.write_line(
            f"{DESELECTED[0]} cluster tests deselected: `make test-cluster` runs them."
        )
    if COUNTS:
        terminalreporter.section("cluster message counts")
        for line in COUNTS:
            terminalreporter.write_line(line)


@pytest.fixture
def report():
    """Adds a line to the message counts printed at the end of the run."""
    return COUNTS.append


def run_script(*args: str) -> str:
    """Run scripts/cluster.py on the test folder as `make cluster` does; its output."""
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--dir", str(FOLDER)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_SECONDS,
    )
    if done.returncode != 0:
        pytest.fail(f"cluster.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def wait_ready(cluster: Cluster) -> None:
    """Every daphne process answers /readyz with 200."""
    deadline = time.monotonic() + READY_WITHIN_SECONDS
    for daphne in cluster.daphnes:
        while fetch("GET", daphne.url + "/readyz").status != 200:
            if time.monotonic() > deadline:
                pytest.fail(f"{daphne.name} not ready within {READY_WITHIN_SECONDS} s")
            time.sleep(0.2)


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """PostgreSQL, Redis, two daphne processes and nginx, for the whole session."""
    FOLDER.parent.mkdir(exist_ok=True)
    with open(FOLDER.parent / "cluster-test.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pytest.fail(f"another test run is using {FOLDER}")
        if (FOLDER / "cluster.json").exists():
            Cluster(FOLDER).stop()  # left by a run that was killed
        shutil.rmtree(FOLDER, ignore_errors=True)
        ports = {
            "--port": free_port(),
            "--daphne-port": free_port(),
            "--redis-port": free_port(),
            "--pg-port": free_port(),
        }
        # Two daphne ports in a row: the first free one and its neighbour.
        while not port_free(ports["--daphne-port"] + 1):
            ports["--daphne-port"] = free_port()
        args = [str(x) for pair in ports.items() for x in pair]
        try:
            run_script("start", "--processes", "2", *args)
            started = Cluster(FOLDER)
            wait_ready(started)
            yield started
        finally:
            if (FOLDER / "cluster.json").exists():
                Cluster(FOLDER).stop()


@pytest.fixture
def healthy(cluster) -> Cluster:
    """The cluster with every part running (revived by `start` if a test left one
    down) and every daphne ready."""
    if not all(part.pid() for part in cluster.parts):
        run_script("start")
    wait_ready(cluster)
    return cluster


MANAGE_SHELL = [sys.executable, "manage.py", "shell", "-v", "0", "-c"]
CREATE_ACCOUNTS = """
import json
from accounts import tokens
from accounts.models import Role, User
issued = {}
for name, role, password in json.loads(%r):
    user = User.objects.create_user(name, password=password)
    user.role = Role.ADMIN if role == "admin" else Role.USER
    user.display_name = name.title()
    user.save()
    issued[name] = tokens.issue(user).token
print(json.dumps(issued))
"""


@pytest.fixture
def accounts(cluster):
    """Create accounts in the cluster's database; their fresh tokens by username.

    ``accounts(users=[...], admins=[...], password=None)`` maps each short name
    to an Account whose username has a unique suffix, so each test has threads
    of its own.
    """
    suffix = os.urandom(3).hex()

    def create(users=(), admins=(), password=None) -> dict[str, Account]:
        spec = [(f"{n}-{suffix}", "user", password) for n in users] + [
            (f"{n}-{suffix}", "admin", password) for n in admins
        ]
        done = subprocess.run(
            [*MANAGE_SHELL, CREATE_ACCOUNTS % json.dumps(spec)],
            cwd=ROOT,
            env=cluster.process_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            pytest.fail(f"creating accounts failed:\n{done.stderr[-3000:]}")
        issued = json.loads(done.stdout.strip().splitlines()[-1])
        roles = {name: role for name, role, _ in spec}
        return {
            name.rsplit("-", 1)[0]: Account(name, token, roles[name])
            for name, token in issued.items()
        }

    return create
