"""Sessions end on time and on revocation: the socket hears why, then closes."""

import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from accounts import tokens
from accounts.models import Role
from tests.conftest import PASSWORD
from tests.integration import ws_helpers
from tests.integration.ws_helpers import communicator_for

pytestmark = pytest.mark.django_db(transaction=True)

CLOSE_WITHIN_SECONDS = 2


async def open_chat(token: str) -> WebsocketCommunicator:
    """A connected socket signed in with ``token``, its `hello` read."""
    communicator, _ = await ws_helpers.open_chat(token=token)
    return communicator


async def assert_closed_with(communicator, code: int, reason: str) -> None:
    """The next outputs are the one closing frame and the close, within 2 s."""
    closing = await communicator.receive_json_from(timeout=CLOSE_WITHIN_SECONDS)
    assert closing == {"type": "closing", "code": code, "reason": reason}
    close = await communicator.receive_output(timeout=CLOSE_WITHIN_SECONDS)
    assert close["type"] == "websocket.close" and close["code"] == code


async def assert_still_open(communicator) -> None:
    await communicator.send_json_to({"type": "send", "text": "¿sigues ahí?"})
    echo = await communicator.receive_json_from(timeout=5)
    assert echo["type"] == "message"


async def test_a_socket_is_warned_then_closed_when_its_token_expires(
    user, settings, channel_layer_settings
):
    settings.JWT_LIFETIME_SECONDS = 2
    issued = tokens.issue(user)
    chat = await open_chat(issued.token)
    try:
        warning = await chat.receive_json_from(timeout=5)
        assert warning["type"] == "session.expiring"
        await assert_closed_with(chat, 4004, "session expired")
        assert time.time() <= issued.expires_at.timestamp() + CLOSE_WITHIN_SECONDS
        assert time.time() >= issued.expires_at.timestamp() - 0.5
    finally:
        await chat.disconnect()


async def test_a_long_lived_token_gets_no_warning_yet(user, channel_layer_settings):
    chat = await open_chat(tokens.issue(user).token)
    try:
        assert await chat.receive_nothing(timeout=0.3)
    finally:
        await chat.disconnect()


async def test_logout_closes_only_that_tokens_sockets(user, channel_layer_settings):
    signed_out, kept = tokens.issue(user).token, tokens.issue(user).token
    closing_chat, other_chat = await open_chat(signed_out), await open_chat(kept)
    try:
        verified = await database_sync_to_async(tokens.verify)(signed_out)
        await database_sync_to_async(tokens.revoke)(verified)
        await assert_closed_with(closing_chat, 4005, "session revoked")
        await assert_still_open(other_chat)
    finally:
        await closing_chat.disconnect()
        await other_chat.disconnect()


async def test_logout_through_the_api_closes_the_socket_and_refuses_the_token(
    user, channel_layer_settings
):
    token = tokens.issue(user).token
    chat = await open_chat(token)
    try:

        def logout():
            client = Client()
            client.cookies["token"] = token
            return client.post("/api/auth/logout").status_code

        assert await database_sync_to_async(logout)() == 204
        await assert_closed_with(chat, 4005, "session revoked")

        def me():
            client = Client()
            client.cookies["token"] = token
            return client.get("/api/me")

        refused = await database_sync_to_async(me)()
        assert refused.status_code == 403 and refused.json()["error"] == "invalid_token"
    finally:
        await chat.disconnect()

    again = communicator_for(token=token)
    try:
        await again.connect(timeout=10)
        closing = await again.receive_json_from(timeout=10)
        assert closing == {"type": "closing", "code": 4003, "reason": "invalid token"}
    finally:
        await again.disconnect()


async def test_logout_all_closes_every_socket_of_the_user_and_no_other(
    user, make_user, channel_layer_settings
):
    other = await database_sync_to_async(make_user)("luis")
    first, second = (
        await open_chat(tokens.issue(user).token),
        await open_chat(tokens.issue(user).token),
    )
    bystander = await open_chat(tokens.issue(other).token)
    try:
        await database_sync_to_async(tokens.revoke_all)(user)
        await assert_closed_with(first, 4005, "session revoked")
        await assert_closed_with(second, 4005, "session revoked")
        await assert_still_open(bystander)
    finally:
        for chat in (first, second, bystander):
            await chat.disconnect()


def _deactivate(user):
    user.is_active = False
    user.save()


def _change_password(user):
    user.set_password("a brand new passphrase")
    user.save()


def _make_admin(user):
    user.role = Role.ADMIN
    user.save()


@pytest.mark.parametrize(
    "change", [_deactivate, _change_password, _make_admin], ids=lambda f: f.__name__
)
async def test_account_changes_close_the_users_sockets(
    user, change, channel_layer_settings
):
    chat = await open_chat(tokens.issue(user).token)
    try:
        fresh = await database_sync_to_async(type(user).objects.get)(pk=user.pk)
        await database_sync_to_async(change)(fresh)
        await assert_closed_with(chat, 4005, "session revoked")
    finally:
        await chat.disconnect()


async def test_a_password_hash_upgrade_is_not_a_password_change(user, settings):
    """Django re-hashes old hashes at sign-in; that must not sign anyone out."""
    token = tokens.issue(user).token
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    fresh = await database_sync_to_async(type(user).objects.get)(pk=user.pk)
    assert fresh.password.startswith("md5$")
    assert await database_sync_to_async(fresh.check_password)(PASSWORD)
    fresh = await database_sync_to_async(type(user).objects.get)(pk=user.pk)
    assert fresh.password.startswith("pbkdf2_")
    assert (await database_sync_to_async(tokens.verify)(token)).user == fresh


async def test_hello_comes_first_even_when_a_message_arrives_during_the_handshake(
    user, admin_user, channel_layer_settings, monkeypatch
):
    """A message published while a socket re-checks its token waits for `hello`."""
    from chat import consumers, services

    real_check = consumers.still_valid_after_joining

    async def slow_check(scope):
        if scope["user"] == admin_user:
            await services.amessage_post(sender=user, text="mientras tanto")
        return await real_check(scope)

    monkeypatch.setattr(consumers, "still_valid_after_joining", slow_check)
    communicator = communicator_for(token=tokens.issue(admin_user).token)
    try:
        connected, _ = await communicator.connect(timeout=10)
        assert connected
        first = await communicator.receive_json_from(timeout=10)
        second = await communicator.receive_json_from(timeout=10)
        assert first["type"] == "hello"
        assert second["type"] == "message" and second["text"] == "mientras tanto"
    finally:
        await communicator.disconnect()


async def test_a_revocation_between_the_token_check_and_the_group_join_closes_it(
    user, channel_layer_settings, monkeypatch
):
    """The revocation's event went out before the socket joined its group, so
    only a second look at the token can catch it."""
    from chat import middleware

    verified_token = tokens.issue(user)
    real_db_read = middleware.db_read

    async def check_then_revoke(function, *args):
        verified = await real_db_read(function, *args)
        await database_sync_to_async(tokens.revoke)(verified)
        return verified

    monkeypatch.setattr(middleware, "db_read", check_then_revoke)
    communicator = communicator_for(token=verified_token.token)
    try:
        connected, _ = await communicator.connect(timeout=10)
        assert connected
        closing = await communicator.receive_json_from(timeout=10)
        assert closing == {"type": "closing", "code": 4005, "reason": "session revoked"}
        assert (await communicator.receive_output(timeout=10))["code"] == 4005
    finally:
        await communicator.disconnect()


async def test_a_quiet_handshake_in_one_process_checks_the_token_once(
    user, memory_layer, monkeypatch
):
    """Without a relaying layer and with no revocation meanwhile, the second
    look proves nothing and is skipped."""
    checks = []
    real_verify = tokens.verify

    def counting_verify(raw):
        checks.append(raw)
        return real_verify(raw)

    monkeypatch.setattr(tokens, "verify", counting_verify)
    communicator = await open_chat(tokens.issue(user).token)  # hello read
    try:
        assert len(checks) == 1
    finally:
        await communicator.disconnect()
