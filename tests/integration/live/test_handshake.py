"""The WebSocket handshake over real sockets (PROTOCOL.md 1 and 3.1)."""

import base64
import json
import time
from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.utils import timezone
from websockets.exceptions import InvalidStatus

from accounts import tokens
from accounts.models import Role, User
from chat.frames import (
    CLOSE_INVALID_TOKEN,
    CLOSE_NOT_AUTHENTICATED,
    CLOSE_TOKEN_NOT_PROVIDED,
)
from chatproject.isotime import iso_utc
from tests.conftest import cookie_with_token, token_for
from tests.integration.live.wire import ChatSocket, frames_until_close

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

WRONG_SECRET = "not-the-jwt-secret-of-this-site-" + "z" * 32


def _b64(data: dict) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims(username: str) -> dict:
    now = int(time.time())
    return {
        "user": username,
        "name": username,
        "rol": "user",
        "iat": now,
        "exp": now + 600,
        "jti": "live-test-token",
    }


@pytest.fixture
def ana(make_user) -> User:
    return make_user("ana", name="Ana García")


@pytest.fixture
def invalid_tokens(make_user, ana) -> dict[str, str]:
    """One token per reason verification must refuse, for an existing user."""
    past = timezone.now() - timedelta(seconds=settings.JWT_LIFETIME_SECONDS + 120)
    deactivated = make_user("baja", is_active=False)
    unsigned = _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(_claims("ana")) + "."
    return {
        "expired": tokens.issue(ana, now=past).token,
        "wrong_secret": jwt.encode(_claims("ana"), WRONG_SECRET, algorithm="HS256"),
        "alg_none": unsigned,
        "garbage": "not.a-jwt.at-all",
        "unknown_user": tokens.issue(User(username="nadie", role=Role.USER)).token,
        "deactivated_user": token_for(deactivated),
    }


def _closing(code: int, reason: str) -> dict:
    return {"type": "closing", "code": code, "reason": reason}


@pytest.mark.parametrize(
    "origin", ["http://evil.example", None], ids=["foreign_origin", "no_origin"]
)
async def test_a_foreign_or_missing_origin_is_refused_with_http_403(
    sockets, ana, origin
):
    with pytest.raises(InvalidStatus) as refused:
        await sockets.raw(cookie=cookie_with_token(token_for(ana)), origin=origin)
    assert refused.value.response.status_code == 403


async def test_no_cookie_header_gets_one_closing_frame_then_4001(sockets):
    ws = await sockets.raw()
    frames, code = await frames_until_close(ws)
    assert frames == [_closing(CLOSE_NOT_AUTHENTICATED, "not authenticated")]
    assert code == CLOSE_NOT_AUTHENTICATED


@pytest.mark.parametrize(
    "cookie",
    ["lang=es; csrftoken=x", "xtoken={valid}", "token="],
    ids=["no_token_cookie", "xtoken_cookie", "empty_token_cookie"],
)
async def test_cookies_without_a_token_cookie_get_one_closing_frame_then_4002(
    sockets, ana, cookie
):
    ws = await sockets.raw(cookie=cookie.format(valid=token_for(ana)))
    frames, code = await frames_until_close(ws)
    assert frames == [_closing(CLOSE_TOKEN_NOT_PROVIDED, "token not provided")]
    assert code == CLOSE_TOKEN_NOT_PROVIDED


@pytest.mark.parametrize(
    "case",
    [
        "expired",
        "wrong_secret",
        "alg_none",
        "garbage",
        "unknown_user",
        "deactivated_user",
    ],
)
async def test_a_token_failing_verification_gets_one_closing_frame_then_4003(
    sockets, invalid_tokens, case
):
    ws = await sockets.raw(cookie=cookie_with_token(invalid_tokens[case]))
    frames, code = await frames_until_close(ws)
    assert frames == [_closing(CLOSE_INVALID_TOKEN, "invalid token")]
    assert code == CLOSE_INVALID_TOKEN


@pytest.mark.parametrize(
    "neighbour", ["csrftoken=abc", 'g_state={"i_l":0}'], ids=["csrftoken", "g_state"]
)
async def test_the_token_cookie_beside_other_cookies_is_accepted_with_hello(
    sockets, ana, neighbour
):
    issued = tokens.issue(ana)
    ws = await sockets.raw(cookie=cookie_with_token(issued.token, neighbour))
    assert await ChatSocket(ws).recv_json() == {
        "type": "hello",
        "user": "ana",
        "name": "Ana García",
        "rol": "user",
        "expires_at": iso_utc(issued.expires_at),
    }


async def test_a_token_minted_by_the_original_app_without_jti_is_accepted(sockets, ana):
    now = int(time.time())
    original = jwt.encode(
        {"user": "ana", "name": "Ana", "rol": "user", "iat": now, "exp": now + 600},
        settings.JWT_SECRET,
        "HS256",
    )
    chat = await sockets.chat(original)
    assert chat.hello["user"] == "ana"
    assert chat.hello["name"] == "Ana García", "the name comes from the database"


@pytest.fixture(
    params=["ana.maria+test@example.com", "a" * 150], ids=["email_like", "150_chars"]
)
def unusual_user(request, make_user) -> User:
    """Usernames with every punctuation Django allows, and the longest allowed."""
    return make_user(request.param, name="Unusual")


async def test_users_with_unusual_names_chat_both_ways_with_an_admin(
    sockets, unusual_user, admin_user
):
    username = unusual_user.username
    mine = await sockets.chat(token_for(unusual_user))
    support = await sockets.chat(token_for(admin_user))
    assert mine.hello["user"] == username

    await mine.send_json({"type": "send", "text": "hola", "client_id": "u1"})
    asked = (await mine.read_then_quiet(1))[0]
    assert asked["type"] == "message"
    assert (asked["thread"], asked["from"], asked["text"], asked["client_id"]) == (
        username,
        username,
        "hola",
        "u1",
    )
    assert await support.read_then_quiet(1) == [asked]

    await support.send_json(
        {"type": "send", "to": username, "text": "¿en qué ayudo?", "client_id": "a1"}
    )
    answered = (await support.read_then_quiet(1))[0]
    assert answered["type"] == "message"
    assert (answered["thread"], answered["from"], answered["text"]) == (
        username,
        "soporte",
        "¿en qué ayudo?",
    )
    assert await mine.read_then_quiet(1) == [answered]
