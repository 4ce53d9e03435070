"""Live fixtures: a real daphne process per channel layer, and real client sockets.

The daphne process serves the test database (a SQLite file, see
``tests/settings.py``) with the test run's secrets, so users made by the
shared factories in ``django_db(transaction=True)`` tests can sign in to it.
"""

import os
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.conf import settings
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import cookie_with_token, free_port
from tests.integration.live.wire import ChatSocket
from tests.servers import running_server

BASE_DIR = Path(settings.BASE_DIR)
DAPHNE = Path(sys.prefix) / "bin" / "daphne"
UVICORN = Path(sys.prefix) / "bin" / "uvicorn"
OPEN_TIMEOUT_SECONDS = 5
CLOSE_TIMEOUT_SECONDS = 2


@dataclass(frozen=True)
class DaphneServer:
    """A running daphne: where it listens and which channel layer it uses."""

    layer: str
    port: int
    log_path: Path

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/chat/"

    @property
    def origin(self) -> str:
        return self.http_url


def test_database_url() -> str:
    """The test database (SQLite file or PostgreSQL) as a DATABASE_URL."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    user, password = quote(db["USER"], safe=""), quote(db["PASSWORD"], safe="")
    return f"postgres://{user}:{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def daphne_env(layer: str, url: str | None, **overrides: str) -> dict[str, str]:
    """A daphne's environment: production mode on the test database."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "chatproject.settings",
        "DEBUG": "0",
        "SECRET_KEY": settings.SECRET_KEY,
        "JWT_SECRET": settings.JWT_SECRET,
        "JWT_COOKIE_SECURE": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # After django_db_setup, NAME is the test database.
        "DATABASE_URL": test_database_url(),
        "PYTHONUNBUFFERED": "1",
        **overrides,
    }
    env.pop("REDIS_URL", None)
    if layer == "redis":
        env["REDIS_URL"] = url
    return env


def server_command(server: str, port: int) -> list[str]:
    """daphne, or uvicorn as README's "Production" runs it."""
    if server == "uvicorn":
        return [
            str(UVICORN),
            "chatproject.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--ws",
            "chatproject.websocket.uvicorn_protocol:SharedFrameProtocol",
            "--ws-per-message-deflate",
            "false",
            "--no-access-log",
            "--no-proxy-headers",
        ]
    return [
        str(DAPHNE),
        "-b",
        "127.0.0.1",
        "-p",
        str(port),
        "chatproject.asgi:application",
    ]


@contextmanager
def running_daphne(
    layer: str,
    url: str | None,
    log_path: Path,
    server: str = "daphne",
    **overrides: str,
) -> Iterator[DaphneServer]:
    """A server process (daphne unless told) on a free port, on the test
    database, stopped on exit; ``overrides`` go into its environment."""
    port = free_port()
    with running_server(
        server_command(server, port),
        port=port,
        log_path=log_path,
        cwd=BASE_DIR,
        env=daphne_env(layer, url, **overrides),
    ):
        yield DaphneServer(layer=layer, port=port, log_path=log_path)


@pytest.fixture(scope="session", params=["memory", "redis", "uvicorn"])
def daphne_server(request, django_db_setup, tmp_path_factory) -> Iterator[DaphneServer]:
    """One server per channel layer for the whole session, on the test database:
    daphne on the in-memory layer and on Redis, and uvicorn (the other
    supported server) on the in-memory layer."""
    server = "uvicorn" if request.param == "uvicorn" else "daphne"
    layer = "memory" if request.param == "uvicorn" else request.param
    url = request.getfixturevalue("redis_url") if layer == "redis" else None
    if url:
        redis.Redis.from_url(url).flushdb()
    log_path = tmp_path_factory.mktemp(f"{server}-{layer}") / "server.log"
    with running_daphne(layer, url, log_path, server) as running:
        yield running


async def open_socket(
    server: DaphneServer,
    *,
    cookie: str | None = None,
    origin: str | None = "default",
) -> ClientConnection:
    """Open a raw WebSocket to ``server``; ``origin=None`` sends no Origin header."""
    headers = {"Cookie": cookie} if cookie is not None else None
    return await connect(
        server.ws_url,
        origin=server.origin if origin == "default" else origin,
        additional_headers=headers,
        open_timeout=OPEN_TIMEOUT_SECONDS,
        close_timeout=CLOSE_TIMEOUT_SECONDS,
    )


@pytest.fixture
async def sockets(daphne_server) -> AsyncIterator:
    """Opens sockets on the live server and closes every one of them at teardown.

    ``await sockets.raw(cookie=..., origin=...)`` gives a bare connection;
    ``await sockets.chat(token)`` a :class:`ChatSocket` whose hello was read.
    """
    opened: list[ClientConnection] = []

    class Opener:
        async def raw(self, **kwargs) -> ClientConnection:
            ws = await open_socket(daphne_server, **kwargs)
            opened.append(ws)
            return ws

        async def chat(self, token: str) -> ChatSocket:
            chat = ChatSocket(await self.raw(cookie=cookie_with_token(token)))
            chat.hello = await chat.recv_json()
            assert chat.hello["type"] == "hello", chat.hello
            return chat

    yield Opener()
    for ws in opened:
        await ws.close()


# The email tests' fixtures (a real SMTP server, a site with a worker).
from tests.integration.live.email_site import (  # noqa: E402, F401
    email_people,
    mailbox,
    site,
)
