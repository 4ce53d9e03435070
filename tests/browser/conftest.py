"""Browser fixtures: Debian's chromium, driven by Playwright, against real daphne.

The daphne processes serve the test database (see ``tests/settings.py``) with
the test run's secrets, exactly as the live socket suite's do, so users made
with ``make_user`` in ``django_db(transaction=True)`` tests can sign in, and
tokens from ``tests.conftest.token_for`` are accepted.
"""

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    expect,
    sync_playwright,
)

from accounts import tokens
from accounts.models import User
from tests import servers
from tests.browser.chat_page import WAIT_MS
from tests.conftest import free_port, token_for
from tests.integration.live.conftest import daphne_env as live_daphne_env
from tests.integration.live.conftest import server_command

ALLOW_ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"

CHROMIUM = Path("/usr/bin/chromium")
# Playwright cannot download its own browsers here; these flags make Debian's
# chromium run headless in a container without reaching out to the network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parent / "artifacts"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}

# Every wait is bounded, assertions included, with room for a loaded machine.
expect.set_options(timeout=WAIT_MS)


def daphne_env(static_root: Path, **overrides: str) -> dict[str, str]:
    """The live suite's daphne environment, with the browser tests' settings."""
    env = live_daphne_env(
        "memory",
        None,
        DJANGO_SETTINGS_MODULE="tests.browser.daphne_settings",
        BROWSER_TEST_STATIC_ROOT=str(static_root),
        **overrides,
    )
    # The server under test keeps Django's guard against blocking its loop.
    env.pop(ALLOW_ASYNC_UNSAFE, None)
    return env


class LiveServer:
    """A daphne on a fixed port that a test may stop and start again."""

    def __init__(self, log_dir: Path, static_root: Path, **env: str):
        self.port = free_port()
        self.log_dir = log_dir
        self.env = daphne_env(static_root, **env)
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/chat/"

    def start(self) -> None:
        self.starts += 1
        self.process = servers.start_server(
            server_command("daphne", self.port),
            port=self.port,
            log_path=self.log_dir / f"daphne-{self.starts}.log",
            cwd=settings.BASE_DIR,
            env=self.env,
        )

    def stop(self) -> None:
        if self.process is None:
            return
        servers.stop_server(self.process)
        self.process = None


@contextmanager
def orm_beside_playwright() -> Iterator[None]:
    """Let the test use the ORM while Playwright runs.

    Playwright's sync API keeps its event loop marked as running on the main
    thread, and Django refuses ORM calls wherever a loop runs, lest they block
    it. The test's calls run between Playwright calls, when that loop is idle,
    so nothing blocks; the permission ends with the browser.
    """
    previous = os.environ.get(ALLOW_ASYNC_UNSAFE)
    os.environ[ALLOW_ASYNC_UNSAFE] = "true"
    try:
        yield
    finally:
        if previous is None:
            del os.environ[ALLOW_ASYNC_UNSAFE]
        else:
            os.environ[ALLOW_ASYNC_UNSAFE] = previous


@pytest.fixture
def browser() -> Iterator[Browser]:
    """A chromium for one test, started after the test's own fixtures.

    Per test, not per session: fixtures that make users then run before
    Playwright's loop exists, and so can reach the channel layer.
    """
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run `make test`, which installs it "
            "(scripts/install-system-packages.sh chromium)."
        )
    with orm_beside_playwright(), sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=30_000
        )
        yield launched
        launched.close()


@pytest.fixture(scope="package")
def static_root(tmp_path_factory) -> Path:
    """``collectstatic`` into a folder of this run, as a deployment runs it."""
    root = tmp_path_factory.mktemp("static")
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=settings.BASE_DIR,
        env=daphne_env(root),
        check=True,
        timeout=120,
    )
    return root


@pytest.fixture(scope="package")
def chat_server(django_db_setup, tmp_path_factory, static_root) -> Iterator[LiveServer]:
    """A daphne shared by the tests that neither stop it nor change its settings."""
    server = LiveServer(tmp_path_factory.mktemp("daphne-browser"), static_root)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def start_server(django_db_setup, tmp_path_factory, static_root) -> Iterator[Callable]:
    """Start daphnes of this test's own: ``start_server(JWT_LIFETIME_SECONDS="66")``."""
    started: list[LiveServer] = []

    def start(**env: str) -> LiveServer:
        server = LiveServer(tmp_path_factory.mktemp("daphne-own"), static_root, **env)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


class PageProblems:
    """Script errors and CSP violations seen by a page; any of them fails the test."""

    def __init__(self):
        self.seen: list[str] = []

    def watch(self, page: Page) -> None:
        page.on("pageerror", lambda error: self.seen.append(f"{page.url}: {error}"))
        page.on("console", self._console)

    def _console(self, message) -> None:
        if "Content Security Policy" in message.text:
            self.seen.append(message.text)


@pytest.fixture
def open_context(browser, chat_server) -> Iterator[Callable]:
    """New browser contexts: ``open_context(server=..., user=..., **context_args)``.

    With ``user``, the context carries a fresh token cookie for that user, as
    if they had signed in. Every context is closed at teardown, and the test
    fails if one of its pages threw a script error or broke the CSP.
    """
    contexts: list[BrowserContext] = []
    problems = PageProblems()

    def open_(
        *, server: LiveServer | None = None, user: User | None = None, **options
    ) -> BrowserContext:
        server = server or chat_server
        options.setdefault("viewport", DESKTOP)
        options.setdefault("locale", "en-US")
        context = browser.new_context(base_url=server.http_url, **options)
        context.set_default_timeout(WAIT_MS)
        context.on("page", problems.watch)
        if user is not None:
            add_token_cookie(context, server, token_for(user))
        contexts.append(context)
        return context

    yield open_
    for context in contexts:
        context.close()
    assert not problems.seen, problems.seen


def add_token_cookie(context: BrowserContext, server: LiveServer, token: str) -> None:
    context.add_cookies(
        [
            {
                "name": tokens.COOKIE_NAME,
                "value": token,
                "url": server.http_url,
                "httpOnly": True,
                "sameSite": "Lax",
            }
        ]
    )
