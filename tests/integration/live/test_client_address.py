"""uvicorn, run as the README says, hands Django the TCP peer as the client address.

uvicorn's own defaults trust ``X-Forwarded-For`` from 127.0.0.1: behind a
same-host proxy that passes the header through, every client could name its
own address and dodge the per-address sign-in lock. Django applies
``PROXY_COUNT`` itself (settings.py), so uvicorn must not.
"""

import http.client
import json
import re
import shlex
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.integration.live.conftest import (
    BASE_DIR,
    UVICORN,
    daphne_env,
    server_command,
)
from tests.servers import running_server

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

LIMIT = 5
README_UVICORN = re.compile(
    r"^uvicorn chatproject\.asgi:application.*?(?<!\\)$", re.S | re.M
)


def readme_uvicorn_command(port: int) -> list[str]:
    """The uvicorn command of README's "Production", on ``port``."""
    readme = (BASE_DIR / "README.md").read_text()
    match = README_UVICORN.search(readme)
    assert match, "README.md shows no uvicorn command"
    argv = shlex.split(match.group(0).replace("\\\n", " "))
    argv[0] = str(UVICORN)
    argv[argv.index("--port") + 1] = str(port)
    return argv


def test_the_readme_runs_uvicorn_without_its_proxy_headers():
    assert "--no-proxy-headers" in readme_uvicorn_command(8000)


def test_the_live_suite_runs_uvicorn_as_the_readme_does():
    assert server_command("uvicorn", 8000) == readme_uvicorn_command(8000)


@pytest.mark.parametrize("doc", ["docs/deploy.md", "bench/README.md"])
def test_every_documented_uvicorn_command_leaves_proxy_headers_to_django(doc):
    text = (BASE_DIR / doc).read_text().replace("\\\n", " ")
    commands = re.findall(r"uvicorn chatproject\.asgi:application[^`\n]*", text)

    assert commands
    for command in commands:
        assert "--no-proxy-headers" in command, command


@pytest.fixture
def readme_uvicorn(django_db_setup, tmp_path) -> Iterator[int]:
    """uvicorn started with README's command line, PROXY_COUNT unset; its port."""
    port = free_port()
    log_path: Path = tmp_path / "uvicorn.log"
    env = daphne_env("memory", None)
    env.pop("PROXY_COUNT", None)
    env.pop("FORWARDED_ALLOW_IPS", None)
    with running_server(
        readme_uvicorn_command(port),
        port=port,
        log_path=log_path,
        cwd=BASE_DIR,
        env=env,
    ):
        yield port


def csrf_cookie(port: int) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/api/auth/csrf")
        response = connection.getresponse()
        response.read()
        cookies = SimpleCookie(response.getheader("Set-Cookie"))
        return cookies["csrftoken"].value
    finally:
        connection.close()


def failed_login(port: int, csrf: str, username: str, forwarded_for: str) -> int:
    """A wrong password for ``username``, claiming ``forwarded_for``; the status."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(
            "POST",
            "/api/auth/login",
            body=json.dumps({"username": username, "password": "wrong"}),
            headers={
                "Content-Type": "application/json",
                "Cookie": f"csrftoken={csrf}",
                "X-CSRFToken": csrf,
                "X-Forwarded-For": forwarded_for,
            },
        )
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_a_forwarded_for_header_does_not_dodge_the_per_address_lock(readme_uvicorn):
    """A new name and a new claimed address each time: only the address repeats."""
    csrf = csrf_cookie(readme_uvicorn)

    statuses = [
        failed_login(readme_uvicorn, csrf, f"nobody{n}", f"203.0.113.{n}")
        for n in range(1, LIMIT + 2)
    ]

    assert statuses[: LIMIT - 1] == [401] * (LIMIT - 1)
    assert statuses[-1] == 429, statuses
