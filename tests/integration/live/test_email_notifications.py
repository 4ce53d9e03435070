"""Email notifications end to end: a real server process, real `email_worker`
processes and a real SMTP server (aiosmtpd). Replies left unseen reach the
customer once, in their language; reading first cancels; the team hears of
a customer who writes while nobody is online; unsubscribing takes one
click; and restarts, two workers or a mail server that is down for a while
still give exactly one email."""

import asyncio
import re
import time
import urllib.request

import pytest
from channels.db import database_sync_to_async

from accounts.models import User
from tests.integration.live.conftest import daphne_env, running_daphne
from tests.integration.live.email_site import (
    NOTHING_MORE_SECONDS,
    NOTIFY_AFTER,
    chat,
    email_env,
    exchange,
    running_worker,
    states,
)
from tests.mailbox import html_of, text_of

pytestmark = [
    pytest.mark.live,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(120),
]


@pytest.mark.postgres
async def test_unseen_replies_are_emailed_once_in_the_customer_s_language(
    site, mailbox, email_people
):
    started = time.monotonic()
    await exchange(site, email_people, "Ya salió, <b>mañana</b> llega.", "Número: 42")
    (email,) = await asyncio.to_thread(mailbox.wait_for, 1, "ana@example.com")
    waited = time.monotonic() - started
    assert waited >= NOTIFY_AFTER
    await asyncio.sleep(NOTHING_MORE_SECONDS)
    assert len(mailbox.messages) == 1  # one email for both replies, none to admins

    assert email["Subject"] == "El equipo de soporte te ha respondido"
    assert email["To"] == "Ana García <ana@example.com>"
    assert email["Auto-Submitted"] == "auto-generated"
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = text_of(email), html_of(email)
    assert "Ya salió, <b>mañana</b> llega." in text and "Número: 42" in text
    assert "Ya salió, &lt;b&gt;mañana&lt;/b&gt; llega." in html
    assert "<b>mañana</b>" not in html
    assert "http://chat.example/support" in text
    assert await database_sync_to_async(states)() == [("reply", "ana", "sent", False)]


@pytest.mark.postgres
async def test_reading_first_cancels_the_email(site, mailbox, email_people):
    ana, sofia = (
        await chat(site, email_people["ana"]),
        await chat(site, email_people["sofia"]),
    )
    await ana.send_json({"type": "send", "text": "Hola"})
    await ana.recv_json()
    await sofia.recv_json()
    await sofia.send_json({"type": "send", "to": "ana", "text": "Dime"})
    reply = await sofia.recv_json()
    await ana.recv_json()
    await ana.send_json({"type": "read", "thread": "ana", "up_to": reply["id"]})
    assert (await sofia.recv_json())["type"] == "seen"
    await ana.ws.close()
    await sofia.ws.close()
    await asyncio.sleep(NOTIFY_AFTER + NOTHING_MORE_SECONDS)
    assert mailbox.messages == []
    assert await database_sync_to_async(states)() == [
        ("reply", "ana", "cancelled", True)
    ]


@pytest.mark.postgres
async def test_the_team_hears_of_a_customer_who_writes_while_nobody_is_online(
    site, mailbox, email_people
):
    ana = await chat(site, email_people["ana"])
    for text in ("¿Hay alguien?", "Es urgente"):
        await ana.send_json({"type": "send", "text": text})
        await ana.recv_json()
    (email,) = await asyncio.to_thread(mailbox.wait_for, 1, "sofia@example.com")
    await asyncio.sleep(NOTHING_MORE_SECONDS)
    # Sofía asked for it, Luis did not; one email for the conversation.
    assert len(mailbox.messages) == 1
    assert email["Subject"] == "A customer is waiting for an answer"
    text = text_of(email)
    assert "Ana García (ana) wrote while nobody of the team was online" in text
    assert "¿Hay alguien?" in text and "Es urgente" in text

    # An answer closes it: the next question while nobody is online is news.
    sofia = await chat(site, email_people["sofia"])
    await sofia.send_json({"type": "send", "to": "ana", "text": "Aquí estoy"})
    await sofia.recv_json()
    await sofia.ws.close()
    await ana.send_json({"type": "read", "thread": "ana", "up_to": 10**9})
    await asyncio.sleep(1)
    await ana.send_json({"type": "send", "text": "Otra pregunta"})
    await asyncio.to_thread(mailbox.wait_for, 2, "sofia@example.com")
    await ana.ws.close()


async def test_unsubscribing_takes_one_click_and_needs_no_sign_in(
    site, mailbox, email_people
):
    await exchange(site, email_people, "Respuesta")
    (email,) = await asyncio.to_thread(mailbox.wait_for, 1, "ana@example.com")
    link = re.search(
        r"<(http://chat\.example/unsubscribe/[^>]+)>", email["List-Unsubscribe"]
    )
    local = link.group(1).replace("http://chat.example", site.http_url)
    assert local.split("/unsubscribe/")[1] in text_of(email)

    # A mail client's one-click POST (RFC 8058), with no cookie at all.
    status, body = await asyncio.to_thread(
        _post_form, local, b"List-Unsubscribe=One-Click"
    )
    assert (status, body) == (200, "")
    assert not (
        await database_sync_to_async(User.objects.get)(username="ana")
    ).notify_replies

    # The page a person's GET shows is tested with Django's client
    # (tests/integration/test_unsubscribe.py): this server has no collected
    # static files to draw it with.
    await exchange(site, email_people, "Otra respuesta")
    await asyncio.sleep(NOTIFY_AFTER + NOTHING_MORE_SECONDS)
    assert len(mailbox.messages) == 1


def _post_form(url: str, data: bytes) -> tuple[int, str]:
    request = urllib.request.Request(  # noqa: S310 (loopback)
        url,
        data=data,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        return response.status, response.read().decode()


async def test_no_email_while_the_customer_has_a_socket_open_on_any_process(
    mailbox, email_people, redis_url, tmp_path
):
    env = email_env(mailbox)
    with (
        running_daphne("redis", redis_url, tmp_path / "one.log", **env) as one,
        running_daphne("redis", redis_url, tmp_path / "two.log", **env) as two,
        running_worker(daphne_env("redis", redis_url, **env), tmp_path / "w.log"),
    ):
        # Ana keeps a tab open on the other process, without reading.
        tab = await chat(two, email_people["ana"])
        await exchange(one, email_people, "Respuesta")
        await asyncio.sleep(NOTIFY_AFTER + NOTHING_MORE_SECONDS)
        assert mailbox.messages == []
        await tab.ws.close()
        (email,) = await asyncio.to_thread(mailbox.wait_for, 1, None, 20)
    assert "Respuesta" in text_of(email)
