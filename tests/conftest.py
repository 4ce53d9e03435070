"""Shared fixtures: users, tokens and cookie headers for HTTP and WebSocket alike,
a real redis-server, and the channel layer under test."""

import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from channels.layers import channel_layers
from django.test import Client

from accounts import tokens
from accounts.models import Role, User
from chatproject.layers import channel_layers as channel_layers_setting
from tests.servers import start_server

PASSWORD = "correct horse battery staple"
# No persistence: a test's Redis starts empty and leaves nothing on disk.
REDIS_EPHEMERAL = ("--save", "", "--appendonly", "no")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def make_user(db):
    """Create a user the way scripts do: create_user, then role and display name."""

    def make(
        username: str,
        *,
        role: str = Role.USER,
        name: str = "",
        password: str = PASSWORD,
        **extra,
    ) -> User:
        user = User.objects.create_user(username, password=password)
        user.role = role
        user.display_name = name or username.title()
        for field, value in extra.items():
            setattr(user, field, value)
        user.save()
        return user

    return make


@pytest.fixture
def user(make_user) -> User:
    return make_user("ana", name="Ana García")


@pytest.fixture
def admin_user(make_user) -> User:
    return make_user("soporte", role=Role.ADMIN, name="Soporte")


@pytest.fixture
def other_admin(make_user) -> User:
    """A second member of the support team (claims, notes, assignee changes)."""
    return make_user("maria", role=Role.ADMIN, name="María López")


def token_for(user: User) -> str:
    """A fresh valid token for ``user``, issued exactly as login issues it."""
    return tokens.issue(user).token


def cookie_with_token(token: str, *others: str) -> str:
    """A Cookie header value holding ``token`` after any ``others`` cookies."""
    return "; ".join([*others, f"{tokens.COOKIE_NAME}={token}"])


@pytest.fixture
def client_for():
    """A Django test client signed in as ``user`` through the token cookie."""

    def make(user: User) -> Client:
        client = Client()
        client.cookies[tokens.COOKIE_NAME] = token_for(user)
        return client

    return make


def start_redis_server(port: int, log_path: Path | None = None) -> subprocess.Popen:
    """A real redis-server on loopback ``port``, listening when returned; its
    output to ``log_path`` (quoted when it fails to start), or nowhere."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is not installed: run `make test`, which installs it "
            "(scripts/install-system-packages.sh redis-server)."
        )
    return start_server(
        [binary, "--port", str(port), "--bind", "127.0.0.1", *REDIS_EPHEMERAL],
        port=port,
        log_path=log_path,
        timeout=10,
    )


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> Iterator[str]:
    """A real redis-server on a free loopback port, for the whole session."""
    port = free_port()
    process = start_redis_server(port, tmp_path_factory.mktemp("redis") / "redis.log")
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


def layer_config(kind: str, redis_url: str | None) -> dict:
    """The production CHANNEL_LAYERS for the in-memory layer or for ``redis_url``."""
    return channel_layers_setting(redis_url if kind == "redis" else None)


@pytest.fixture
def memory_layer(settings) -> Iterator[None]:
    """The in-memory channel layer, a fresh instance for this test."""
    settings.CHANNEL_LAYERS = layer_config("memory", None)
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(params=["memory", "redis"])
def layer_kind(request) -> str:
    """Runs a test once on the in-memory layer and once on a real Redis."""
    return request.param


@pytest.fixture
def channel_layer_settings(layer_kind, request, settings):
    """Point Channels at the layer under test, with a fresh layer instance."""
    url = request.getfixturevalue("redis_url") if layer_kind == "redis" else None
    settings.CHANNEL_LAYERS = layer_config(layer_kind, url)
    channel_layers.backends.clear()
    if url:
        redis.Redis.from_url(url).flushdb()
    yield layer_kind
    channel_layers.backends.clear()


@pytest.fixture(scope="session", autouse=True)
def database_threads_closed(django_db_setup, django_db_blocker):
    """The chat's database threads hold their own connections: closed before
    the test database is dropped, which PostgreSQL refuses while they last."""
    yield
    from chat import dbthread

    with django_db_blocker.unblock():
        for thread in (dbthread.writer, dbthread.reader):
            thread.close()


def pytest_sessionfinish(session, exitstatus):
    """Remove the SQLite test database files this run left (WAL, shared memory)."""
    from django.conf import settings

    name = settings.DATABASES["default"].get("TEST", {}).get("NAME")
    if name:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(name + suffix).unlink(missing_ok=True)
