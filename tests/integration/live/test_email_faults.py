"""Email notifications through faults: the server process restarted between
the reply and the due time, two workers at once, a mail server down for a
while or refusing the address for good, and a display name that tries to
add a header. Each time: exactly one email, or none, and never a crash."""

import asyncio
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from accounts.models import User
from notifications.models import Notification
from tests.cluster.peer import afetch
from tests.integration.live.conftest import daphne_env, running_daphne
from tests.integration.live.email_site import (
    NOTHING_MORE_SECONDS,
    NOTIFY_AFTER,
    email_env,
    exchange,
    running_worker,
    states,
)
from tests.mailbox import text_of

pytestmark = [
    pytest.mark.live,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(120),
]


@pytest.mark.postgres
async def test_a_restart_between_reply_and_due_time_still_sends_once_with_two_workers(
    mailbox, email_people, tmp_path
):
    env = email_env(mailbox)
    worker_env = daphne_env("memory", None, **env)
    with running_daphne("memory", None, tmp_path / "first.log", **env) as first:
        await exchange(first, email_people, "Te escribo en un momento")
    # The server that stored the reply is gone, and no worker ran meanwhile.
    assert await database_sync_to_async(states)() == [
        ("reply", "ana", "pending", False)
    ]
    await asyncio.sleep(NOTIFY_AFTER)
    with (
        running_daphne("memory", None, tmp_path / "second.log", **env),
        running_worker(worker_env, tmp_path / "worker-1.log"),
        running_worker(worker_env, tmp_path / "worker-2.log"),
    ):
        (email,) = await asyncio.to_thread(mailbox.wait_for, 1, "ana@example.com")
        await asyncio.sleep(NOTHING_MORE_SECONDS)
    assert len(mailbox.messages) == 1
    assert "Te escribo en un momento" in text_of(email)
    assert await database_sync_to_async(states)() == [("reply", "ana", "sent", False)]


@pytest.mark.postgres
async def test_many_notifications_and_two_workers_send_each_exactly_once(
    mailbox, make_user, tmp_path
):
    customers = await database_sync_to_async(_customers)(make_user, 12)
    env = email_env(mailbox)
    with running_daphne("memory", None, tmp_path / "daphne.log", **env) as server:
        team = customers[-1]
        for customer in customers[:-1]:
            await exchange(server, {"ana": customer, "sofia": team}, "Hola")
        with (
            running_worker(daphne_env("memory", None, **env), tmp_path / "w1.log"),
            running_worker(daphne_env("memory", None, **env), tmp_path / "w2.log"),
        ):
            await asyncio.to_thread(mailbox.wait_for, len(customers) - 1, None, 30)
            await asyncio.sleep(NOTHING_MORE_SECONDS)
    receivers = sorted(rcpt for rcpts in mailbox.envelopes for rcpt in rcpts)
    assert receivers == sorted(c.email for c in customers[:-1])


def _customers(make_user, count: int) -> list[User]:
    made = [
        make_user(f"c{n}", email=f"c{n}@example.com", email_verified=True)
        for n in range(count - 1)
    ]
    # The last one answers them all: an admin.
    made.append(make_user("team", role="admin", email="team@example.com"))
    return made


async def test_a_mail_server_down_for_a_while_gets_the_email_once_it_is_back(
    mailbox, email_people, tmp_path
):
    env = email_env(mailbox)
    mailbox.stop()
    with (
        running_daphne("memory", None, tmp_path / "daphne.log", **env) as server,
        running_worker(daphne_env("memory", None, **env), tmp_path / "worker.log"),
    ):
        await exchange(server, email_people, "Respuesta")
        retrying = await _metric_within(server, "chat_email_notifications_retrying", 20)
        assert retrying >= 1
        # The chat is not held up meanwhile.
        answer = await afetch("GET", server.http_url + "/healthz")
        assert answer.status == 200
        mailbox.start()
        await asyncio.to_thread(mailbox.wait_for, 1, "ana@example.com", 20)
        await asyncio.sleep(NOTHING_MORE_SECONDS)
        assert await _metric(server, "chat_email_notifications_retrying") == 0
        assert await _metric(server, 'chat_email_notifications{state="sent"}') == 1
    assert len(mailbox.messages) == 1
    attempts = await database_sync_to_async(
        lambda: Notification.objects.get().attempts
    )()
    assert attempts >= 2


async def test_an_address_refused_for_good_is_not_tried_again(
    mailbox, email_people, tmp_path
):
    env = email_env(mailbox)
    mailbox.refuse(550)
    with (
        running_daphne("memory", None, tmp_path / "daphne.log", **env) as server,
        running_worker(daphne_env("memory", None, **env), tmp_path / "worker.log"),
    ):
        await exchange(server, email_people, "Respuesta")
        failed = await _metric_within(
            server, 'chat_email_notifications{state="failed"}', 20
        )
        assert failed == 1
        mailbox.refuse(None)
        # Marked as bouncing: the next reply is not even scheduled for it.
        await exchange(server, email_people, "Otra")
        await asyncio.sleep(NOTIFY_AFTER + NOTHING_MORE_SECONDS)
    assert mailbox.messages == []
    ana = await database_sync_to_async(User.objects.get)(username="ana")
    assert ana.email_bounced_at is not None
    notification = await database_sync_to_async(Notification.objects.get)()
    assert (notification.state, notification.attempts) == ("failed", 1)
    assert "550" in notification.last_error


@pytest.mark.parametrize(
    "name",
    [
        "Ana\r\nBcc: evil@example.net\r\nX-Injected: yes",
        # An encoded word, which Python's address parser decodes even quoted.
        "=?utf-8?q?Ana=0D=0ABcc:_evil@example.net?=",
    ],
)
async def test_a_display_name_cannot_add_a_header_or_a_recipient(
    mailbox, email_people, tmp_path, name
):
    ana = email_people["ana"]
    ana.display_name = name
    await database_sync_to_async(ana.save)()
    env = email_env(mailbox)
    with (
        running_daphne("memory", None, tmp_path / "daphne.log", **env) as server,
        running_worker(daphne_env("memory", None, **env), tmp_path / "worker.log"),
    ):
        await exchange(server, email_people, "Respuesta")
        (email,) = await asyncio.to_thread(mailbox.wait_for, 1, "ana@example.com")
    assert mailbox.envelopes == [["ana@example.com"]]
    assert email["Bcc"] is None and email["X-Injected"] is None
    assert email["To"].addresses[0].addr_spec == "ana@example.com"


async def _metric(server, name: str) -> float:
    text = (await afetch("GET", server.http_url + "/metrics")).body
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics")


async def _metric_within(server, name: str, seconds: float) -> float:
    """The metric once it is above zero (waiting up to ``seconds``)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        value = await _metric(server, name)
        if value > 0 or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.2)


async def test_a_task_left_running_by_a_killed_worker_is_sent_by_the_next_one(
    mailbox, email_people, tmp_path
):
    env = email_env(mailbox)
    with running_daphne("memory", None, tmp_path / "daphne.log", **env) as server:
        await exchange(server, email_people, "Respuesta")
    # What a worker killed while sending leaves: its task claimed and
    # RUNNING, long ago, and the notification still pending.
    await database_sync_to_async(_leave_running)(minutes=20)
    with running_worker(daphne_env("memory", None, **env), tmp_path / "worker.log"):
        (email,) = await asyncio.to_thread(mailbox.wait_for, 1, "ana@example.com", 20)
        await asyncio.sleep(NOTHING_MORE_SECONDS)
    assert len(mailbox.messages) == 1 and "Respuesta" in text_of(email)
    assert await database_sync_to_async(states)() == [("reply", "ana", "sent", False)]


def _leave_running(*, minutes: int) -> None:
    started = timezone.now() - timedelta(minutes=minutes)
    updated = DBTaskResult.objects.update(
        status=TaskResultStatus.RUNNING, started_at=started, worker_ids=["killed"]
    )
    assert updated == 1
