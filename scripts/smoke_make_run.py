"""`make run` in a fresh clone serves the login page and the demo admin signs in.

Clones the repository's committed HEAD into a temporary directory, runs
`make run PORT=<free port>` there (which builds its own venv), reads the
demo passwords it prints once, waits for GET /login, signs in as the demo
admin through the JSON API with CSRF, as a browser script would, and checks
that a second `seed_demo` prints no password. Standard library only.
Run: `make smoke`. Exits non-zero with a message on the first failure.
"""

import contextlib
import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Creating the venv and installing the requirements come first.
TIMEOUT_SECONDS = float(os.environ.get("SMOKE_TIMEOUT_SECONDS", "180"))
DEMO_ACCOUNT = re.compile(
    r"^\s+(?P<role>admin|user)\s+username:\s+(?P<username>\S+)\s+"
    r"password:\s+(?P<password>\S+)\s*$"
)
# The clone must not pick up the caller's database, channel layer or make flags.
DROPPED_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "DJANGO_SETTINGS_MODULE",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "MAKEFLAGS",
    "MFLAGS",
    "MAKELEVEL",
)


class SmokeFailure(Exception):
    """A check failed; the message says which and what was seen."""


def say(message: str) -> None:
    sys.stdout.write(f"smoke: {message}\n")
    sys.stdout.flush()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def executable(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SmokeFailure(f"`{name}` is not installed or not on PATH")
    return path


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_VARIABLES}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class MakeRun:
    """`make run` as a process group whose output is echoed and kept."""

    def __init__(self, clone: Path, port: int) -> None:
        self.lines: list[str] = []
        self.accounts: dict[str, tuple[str, str]] = {}
        self._lock = threading.Lock()
        self.process = subprocess.Popen(
            [executable("make"), "run", f"PORT={port}"],
            cwd=clone,
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            line = line.rstrip("\n")
            sys.stdout.write(f"  | {line}\n")
            sys.stdout.flush()
            match = DEMO_ACCOUNT.match(line)
            with self._lock:
                self.lines.append(line)
                if match:
                    self.accounts[match["username"]] = (
                        match["role"],
                        match["password"],
                    )

    def demo_admin(self) -> tuple[str, str] | None:
        """The demo admin's username and password, once printed."""
        with self._lock:
            for username, (role, password) in self.accounts.items():
                if role == "admin":
                    return username, password
        return None

    def check_alive(self) -> None:
        code = self.process.poll()
        if code is not None:
            self._reader.join(timeout=5)
            tail = "\n".join(self.lines[-20:])
            raise SmokeFailure(f"`make run` exited with status {code}:\n{tail}")

    def stop(self) -> None:
        """Stop the whole process group: make, manage.py runserver and its reloader."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
            except ProcessLookupError:
                pass
        # The reloader's child may outlive make; the group id is make's pid.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self._reader.join(timeout=5)


class Browser:
    """Just enough of a browser: a cookie jar and JSON requests to one origin."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar)
        )

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.jar if c.name == name), None)

    def request(
        self,
        method: str,
        path: str,
        body: dict | None = None,
        headers: dict | None = None,
        timeout: float = 10,
    ) -> tuple[int, str]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 (always http://127.0.0.1)
            self.base + path, data=data, method=method, headers=headers or {}
        )
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with self.opener.open(request, timeout=timeout) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()


def wait_for(what: str, deadline: float, run: MakeRun, probe) -> object:
    """Call ``probe`` until it returns something truthy, or fail at ``deadline``."""
    say(f"waiting for {what} ...")
    last_problem = "nothing yet"
    while time.monotonic() < deadline:
        run.check_alive()
        try:
            result = probe()
        except (urllib.error.URLError, ConnectionError, TimeoutError) as err:
            result, last_problem = None, repr(err)
        if result:
            return result
        time.sleep(0.5)
    raise SmokeFailure(f"timed out waiting for {what} (last: {last_problem})")


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise SmokeFailure(message)


def check_login_page(browser: Browser) -> bool:
    status, page = browser.request("GET", "/login", timeout=5)
    if status != 200:
        return False
    expect(
        '<form method="post" action="/login"' in page
        and 'name="username"' in page
        and 'name="password"' in page,
        "GET /login answered 200 without the login form",
    )
    return True


def sign_in_as_admin(browser: Browser, username: str, password: str) -> None:
    status, _ = browser.request("GET", "/api/auth/csrf")
    expect(status == 204, f"GET /api/auth/csrf answered {status}, expected 204")
    csrf = browser.cookie("csrftoken")
    expect(bool(csrf), "GET /api/auth/csrf set no csrftoken cookie")
    say("got the csrftoken cookie")

    status, body = browser.request(
        "POST",
        "/api/auth/login",
        {"username": username, "password": password},
        headers={"X-CSRFToken": csrf},
    )
    expect(status == 200, f"POST /api/auth/login answered {status}: {body}")
    session = json.loads(body)
    expect(
        session.get("rol") == "admin",
        f"the demo admin signed in with rol {session.get('rol')!r}: {body}",
    )
    expect(bool(browser.cookie("token")), "the login answer set no token cookie")
    say(f"signed in as {username!r} through the JSON API: rol admin")

    status, body = browser.request("GET", "/api/me")
    expect(status == 200, f"GET /api/me answered {status}: {body}")
    me = json.loads(body)
    expect(
        me.get("user") == username and me.get("rol") == "admin",
        f"GET /api/me answered {body}",
    )
    say("GET /api/me: 200, the demo admin")


def check_seed_is_quiet_the_second_time(clone: Path) -> None:
    python = clone / ".venv" / "bin" / "python"
    expect(python.exists(), f"`make run` left no venv at {python}")
    result = subprocess.run(
        [str(python), "manage.py", "seed_demo"],
        cwd=clone,
        env={**clean_env(), "DEBUG": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    expect(result.returncode == 0, f"the second seed_demo failed:\n{output}")
    expect(
        "password" not in output.lower().replace("passwords are not shown", ""),
        f"the second seed_demo printed a password:\n{output}",
    )
    expect("already exist" in output, f"unexpected second seed_demo output:\n{output}")
    say("a second seed_demo prints no password")


def smoke(workdir: Path) -> None:
    clone = workdir / "clone"
    subprocess.run(
        [executable("git"), "clone", "-q", str(ROOT), str(clone)], check=True
    )
    head = subprocess.run(
        [executable("git"), "-C", str(clone), "rev-parse", "--short", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    say(f"cloned HEAD {head} into {clone}")

    port = free_port()
    deadline = time.monotonic() + TIMEOUT_SECONDS
    say(f"running `make run PORT={port}` (limit {TIMEOUT_SECONDS:.0f} s)")
    run = MakeRun(clone, port)
    try:
        username, password = wait_for(
            "the demo accounts to be printed", deadline, run, run.demo_admin
        )
        say(f"demo admin is {username!r} (password printed once)")
        browser = Browser(port)
        wait_for(
            f"GET http://127.0.0.1:{port}/login to answer 200 with the form",
            deadline,
            run,
            lambda: check_login_page(browser),
        )
        say("GET /login: 200 with the login form")
        sign_in_as_admin(browser, username, password)
    finally:
        say("stopping `make run`")
        run.stop()
    check_seed_is_quiet_the_second_time(clone)


def main() -> int:
    keep = os.environ.get("SMOKE_KEEP_CLONE") == "1"
    workdir = Path(tempfile.mkdtemp(prefix="smoke-make-run-"))
    try:
        smoke(workdir)
    except SmokeFailure as err:
        say(f"FAILED: {err}")
        return 1
    except subprocess.CalledProcessError as err:
        say(f"FAILED: {err}")
        return 1
    finally:
        if keep:
            say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    say("OK: `make run` from a fresh clone serves /login and the demo admin signs in")
    return 0


if __name__ == "__main__":
    sys.exit(main())
