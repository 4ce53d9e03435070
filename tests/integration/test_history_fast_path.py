"""The history endpoints' fast path: async views querying on the chat's database
thread, plain SQL rows, and a middleware chain that runs on the event loop.

Everything here must be invisible on the wire: same bodies, same headers,
same answers to bad requests, a 503 when the database is lost, CSRF on POSTs.
"""

from datetime import UTC, datetime

import pytest
from django.contrib import messages
from django.contrib.messages.storage.cookie import CookieStorage
from django.contrib.sessions.models import Session
from django.db import OperationalError
from django.http import HttpResponse
from django.test import AsyncClient, RequestFactory

from accounts import tokens
from accounts.models import User
from chat.frames import message_frame
from chat.models import Message
from chatproject.loopmiddleware import LoopMessageMiddleware, LoopSessionMiddleware
from tests.conftest import token_for
from tests.integration.dbthread_helpers import db_thread_queries

# The views read on the database thread's own connection: the test's rows
# must be committed to be seen.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def thread_of_ana(user, admin_user):
    """Ana's thread: 7 messages from both sides, with and without client ids."""
    stored = []
    for n in range(7):
        sender = user if n % 2 else admin_user
        stored.append(
            Message.objects.create(
                thread=user,
                sender=sender,
                sender_name=sender.name,
                sender_role=sender.role,
                text=f"¿mensaje {n}? \u2603 <b>&",
                client_id=f"c-{n}" if n % 3 else None,
                created_at=datetime(
                    2026, 11, 28, 21, 57, n, 123_999 * n % 1_000_000, UTC
                ),
            )
        )
    return stored


def _cookie(user: User) -> dict:
    return {"HTTP_COOKIE": f"{tokens.COOKIE_NAME}={token_for(user)}"}


def _async_client(user: User | None = None, token: str | None = None) -> AsyncClient:
    """An AsyncClient: Django's middleware chain in async mode, as under ASGI."""
    client = AsyncClient()
    if user or token:
        client.cookies[tokens.COOKIE_NAME] = token or token_for(user)
    return client


def test_pages_are_the_message_frames_of_the_stored_messages(
    client, user, admin_user, thread_of_ana
):
    orm_frames = [message_frame(m) for m in Message.objects.order_by("id")]

    mine = client.get("/api/messages/mine?limit=3", **_cookie(user)).json()
    older = client.get(
        f"/api/messages?with=ana&limit=3&before={mine['messages'][0]['id']}",
        **_cookie(admin_user),
    ).json()
    forward = client.get(
        f"/api/messages/mine?after={orm_frames[0]['id']}&limit=10", **_cookie(user)
    ).json()

    # Nobody has read anything yet: no read mark on either side.
    assert mine == {"messages": orm_frames[-3:], "has_more": True, "seen_up_to": None}
    assert older == {
        "messages": orm_frames[-6:-3],
        "has_more": True,
        "user_seen_up_to": None,
    }
    assert forward == {
        "messages": orm_frames[1:],
        "has_more": False,
        "seen_up_to": None,
    }
    assert orm_frames[3]["sent_at"] == "2026-11-28T21:57:03.371Z"


@pytest.mark.parametrize("query", ["limit=50", "limit=2", "before=999999", "after=0"])
def test_each_history_request_costs_the_same_few_queries(
    client, user, admin_user, thread_of_ana, query
):
    # mine: the token (one query, accounts.tokens.verify), the page and the
    # team's read mark; an admin's view of a thread: the token, the thread's
    # user, the page and the customer's read mark.
    for path, caller, expected in [
        (f"/api/messages/mine?{query}", user, 3),
        (f"/api/messages?with=ana&{query}", admin_user, 4),
    ]:
        with db_thread_queries() as queries:
            assert client.get(path, **_cookie(caller)).status_code == 200
        assert len(queries) == expected, [q["sql"] for q in queries]


def test_the_raw_queries_name_the_models_tables():
    # chat.selectors writes these names in its SQL.
    assert Message._meta.db_table == "chat_message"
    assert User._meta.db_table == "accounts_user"


async def test_through_the_async_chain_answers_and_headers_are_unchanged(
    user, admin_user, thread_of_ana
):
    as_ana, as_admin = _async_client(user), _async_client(admin_user)
    ok = await as_ana.get("/api/messages/mine")
    assert ok.status_code == 200
    assert len(ok.json()["messages"]) == 7
    assert ok["Content-Type"] == "application/json"
    assert ok["X-Content-Type-Options"] == "nosniff"
    assert ok["X-Frame-Options"] == "DENY"
    assert ok["Referrer-Policy"] == "same-origin"
    assert ok["Content-Language"] == "en"
    assert "Content-Security-Policy" not in ok

    spanish = await as_ana.get(
        "/api/messages/mine?limit=0", headers={"accept-language": "es"}
    )
    assert spanish.status_code == 400
    assert spanish.json()["error"] == "invalid_parameter"
    assert spanish["Content-Language"] == "es"

    answers = {
        "not_authenticated": (await _async_client().get("/api/messages/mine"), 401),
        "invalid_token": (
            await _async_client(token="garbage").get("/api/messages?with=ana"),
            403,
        ),
        "admin_only": (await as_ana.get("/api/messages?with=ana"), 403),
        "unknown_user": (await as_admin.get("/api/messages?with=nobody"), 404),
        "missing_parameter": (await as_admin.get("/api/messages"), 400),
    }
    for code, (response, status) in answers.items():
        assert (response.status_code, response.json()["error"]) == (status, code)
    assert (await as_ana.post("/api/messages/mine")).status_code == 405


async def test_through_the_async_chain_a_lost_database_is_503(user, monkeypatch):
    def database_gone(raw):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(tokens, "verify", database_gone)
    response = await _async_client(user).get("/api/messages/mine")

    assert response.status_code == 503
    assert response.json()["error"] == "unavailable"
    assert response["Retry-After"] == "5"


async def test_through_the_async_chain_posts_still_need_the_csrf_token(user):
    client = AsyncClient(enforce_csrf_checks=True)
    body = {"username": "ana", "password": "wrong"}

    refused = await client.post(
        "/api/auth/login", body, content_type="application/json"
    )
    assert refused.status_code == 403
    assert refused.json()["error"] == "csrf_failed"

    assert (await client.get("/api/auth/csrf")).status_code == 204
    csrf = client.cookies["csrftoken"].value
    checked = await client.post(
        "/api/auth/login",
        body,
        content_type="application/json",
        headers={"x-csrftoken": csrf},
    )
    assert checked.status_code == 401
    assert checked.json()["error"] == "invalid_credentials"


async def test_on_the_loop_a_modified_session_is_still_saved():
    async def view(request):
        request.session["seen"] = True
        return HttpResponse()

    response = await LoopSessionMiddleware(view)(RequestFactory().get("/"))

    key = response.cookies["sessionid"].value
    assert await Session.objects.filter(session_key=key).aexists()


async def test_on_the_loop_flash_messages_are_still_stored():
    async def view(request):
        messages.info(request, "saved")
        return HttpResponse()

    request = RequestFactory().get("/")
    response = await LoopSessionMiddleware(LoopMessageMiddleware(view))(request)

    stored = CookieStorage(request)._decode(response.cookies["messages"].value)
    assert [str(m) for m in stored] == ["saved"]
