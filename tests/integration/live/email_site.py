"""Email notifications on a live site: a daphne, `email_worker` processes and a
real SMTP server (aiosmtpd, tests/mailbox.py), all on the test database."""

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from accounts.models import Role
from notifications.models import Notification
from tests.conftest import cookie_with_token, token_for
from tests.integration.live.conftest import (
    BASE_DIR,
    daphne_env,
    open_socket,
    running_daphne,
)
from tests.integration.live.wire import ChatSocket
from tests.mailbox import Mailbox, running_mailbox
from tests.servers import stop_server

NOTIFY_AFTER = 2
# Long enough for a second, wrong, email to show up.
NOTHING_MORE_SECONDS = 3


def email_env(mailbox: Mailbox, site_url: str = "http://chat.example") -> dict:
    return {
        "EMAIL_URL": f"smtp://127.0.0.1:{mailbox.port}",
        "DEFAULT_FROM_EMAIL": "Support <support@chat.example>",
        "SITE_URL": site_url,
        "NOTIFY_AFTER_SECONDS": str(NOTIFY_AFTER),
        "NOTIFY_TEAM_AFTER_SECONDS": "1",
        "NOTIFY_RETRY_SECONDS": "1",
    }


@contextmanager
def running_worker(env: dict, log_path: Path) -> Iterator[subprocess.Popen]:
    """`manage.py email_worker`, as `make run` starts it, polling often."""
    with open(log_path, "ab") as log:
        worker = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "email_worker",
                "--interval",
                "0.2",
                "--no-startup-delay",
                "--no-reload",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield worker
    finally:
        stop_server(worker)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with running_mailbox() as box:
        yield box


@pytest.fixture
def email_people(make_user):
    """A Spanish-speaking customer with a verified address, and two admins:
    one who asked for emails about waiting customers, one who did not."""
    ana = make_user(
        "ana",
        name="Ana García",
        email="ana@example.com",
        email_verified=True,
        language="es",
    )
    sofia = make_user(
        "sofia",
        role=Role.ADMIN,
        name="Sofía",
        email="sofia@example.com",
        email_verified=True,
        notify_new_conversations=True,
    )
    luis = make_user(
        "luis",
        role=Role.ADMIN,
        name="Luis",
        email="luis@example.com",
        email_verified=True,
    )
    return {"ana": ana, "sofia": sofia, "luis": luis}


@pytest.fixture
def site(mailbox, tmp_path):
    """A daphne and a worker, emailing through ``mailbox``."""
    env = email_env(mailbox)
    with (
        running_daphne("memory", None, tmp_path / "daphne.log", **env) as server,
        running_worker(daphne_env("memory", None, **env), tmp_path / "worker.log"),
    ):
        yield server


async def chat(server, user) -> ChatSocket:
    socket = ChatSocket(
        await open_socket(server, cookie=cookie_with_token(token_for(user)))
    )
    socket.hello = await socket.recv_json()
    return socket


async def exchange(server, people, *replies: str) -> tuple[dict, list[dict]]:
    """Ana asks, Sofía answers with ``replies``, both leave; Ana's question and
    the replies' frames."""
    ana, sofia = await chat(server, people["ana"]), await chat(server, people["sofia"])
    await ana.send_json({"type": "send", "text": "¿Dónde está mi pedido?"})
    asked = await ana.recv_json()
    await sofia.recv_json()
    answers = []
    for text in replies:
        await sofia.send_json(
            {"type": "send", "to": people["ana"].username, "text": text}
        )
        answers.append(await sofia.recv_json())
        await ana.recv_json()
    await ana.ws.close()
    await sofia.ws.close()
    return asked, answers


def states() -> list[tuple[str, str, str, bool]]:
    return list(
        Notification.objects.order_by("id").values_list(
            "kind", "recipient__username", "state", "closed"
        )
    )
