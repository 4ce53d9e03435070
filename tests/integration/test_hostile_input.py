"""Hostile input at the handshake and on the socket: always the specified answer,
never an unhandled exception, nothing stored from an invalid frame."""

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.models import Role
from chat.models import Message
from tests.conftest import cookie_with_token, token_for
from tests.integration.ws_helpers import communicator_for, open_chat

pytestmark = pytest.mark.django_db(transaction=True)

REJECTION_CODES = {4001, 4002, 4003}
# Answered by one error frame carrying this client_id: once it arrives, every
# answer to the frames sent before it has arrived too. Unlike a `resume`, it
# is not rate-limited, so any number of exchanges can end with it.
SENTINEL_ID = "sentinel-8f1c2a77e0b94d6c"
SENTINEL = json.dumps({"type": "sentinel", "client_id": SENTINEL_ID})


async def handshake(cookie: bytes | None) -> list[dict]:
    """Connect with ``cookie`` and return what the server sent before closing."""
    communicator = communicator_for(cookie=cookie)
    try:
        connected, _ = await communicator.connect(timeout=5)
        assert connected
        outputs = []
        while True:
            output = await communicator.receive_output(timeout=5)
            outputs.append(output)
            if output["type"] == "websocket.close":
                return outputs
            if json.loads(output.get("text", "{}")).get("type") == "hello":
                return outputs
    finally:
        await communicator.disconnect()


def closing_code(outputs: list[dict]) -> int | None:
    """The code of a well-formed rejection: one closing frame, then the close."""
    if len(outputs) != 2 or outputs[1]["type"] != "websocket.close":
        return None
    frame = json.loads(outputs[0]["text"])
    assert frame["type"] == "closing" and frame["code"] == outputs[1]["code"]
    return frame["code"]


def signed(claims: dict, headers: dict | None = None) -> str:
    return jwt.encode(claims, settings.JWT_SECRET, algorithm="HS256", headers=headers)


def claims_for(user, **overrides) -> dict:
    now = datetime.now(UTC)
    return {
        "user": user.username,
        "name": user.name,
        "rol": user.role,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(hours=1)).timestamp()),
        **overrides,
    }


class RecordingHandler(BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self):
        RecordingHandler.requests.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"keys": []}')

    def log_message(self, *args):
        pass


@pytest.fixture
def key_server():
    """A local HTTP server that records any attempt to fetch a key from it."""
    RecordingHandler.requests = []
    server = HTTPServer(("127.0.0.1", 0), RecordingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


async def test_a_token_over_8_kb_is_refused(user):
    token = signed(claims_for(user, padding="x" * 9000))
    assert closing_code(await handshake(f"token={token}".encode())) == 4003


async def test_two_token_cookies_are_refused_even_if_both_are_valid(user):
    header = f"token={token_for(user)}; token={token_for(user)}"
    assert closing_code(await handshake(header.encode())) == 4003


async def test_a_bearer_prefix_is_not_a_token(user):
    header = cookie_with_token("Bearer " + token_for(user))
    assert closing_code(await handshake(header.encode())) == 4003


@pytest.mark.parametrize("field", ["kid", "jku", "x5u"])
async def test_key_reference_headers_are_refused_and_never_fetched(
    user, key_server, field
):
    value = "key-1" if field == "kid" else f"{key_server}/jwks.json"
    token = signed(claims_for(user), headers={field: value})
    assert closing_code(await handshake(f"token={token}".encode())) == 4003
    assert RecordingHandler.requests == []


async def test_a_token_issued_in_the_future_is_refused(user):
    future = int((datetime.now(UTC) + timedelta(minutes=10)).timestamp())
    token = signed(claims_for(user, iat=future))
    assert closing_code(await handshake(f"token={token}".encode())) == 4003


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("lang=es; ñandú=sí".encode("latin-1"), 4002),
        (b"\xff\xfe\x00token=\xc3\x28", 4002),
        (b"token=\xc3\x28\xff\x00", 4003),
        (b";;;==;", 4002),
        (b'token="unterminated', 4003),
        (b"", 4002),
    ],
)
async def test_odd_cookie_headers_get_their_rejection(header, code):
    assert closing_code(await handshake(header)) == code


cookie_headers = st.one_of(
    st.binary(max_size=300),
    st.lists(
        st.tuples(
            st.sampled_from(["token", "csrftoken", "xtoken", "g_state", "", " token"]),
            st.text(max_size=60),
        ),
        max_size=5,
    ).map(lambda pairs: "; ".join(f"{k}={v}" for k, v in pairs).encode("utf-8")),
)


@hypothesis_settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(header=cookie_headers)
async def test_random_cookie_headers_are_rejected_cleanly(header):
    assert closing_code(await handshake(header)) in REJECTION_CODES


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
frame_fields = st.fixed_dictionaries(
    {"type": st.sampled_from(["send", "resume", "read", "hello", "SEND"])},
    optional={
        "text": st.text(max_size=80) | json_values,
        "to": st.sampled_from(["ana", "soporte", "nadie", ""]) | json_values,
        "client_id": st.text(max_size=70) | json_values,
        "after": st.integers(min_value=-5, max_value=10**20) | json_values,
        "thread": st.sampled_from(["ana", "nadie"]) | json_values,
        "up_to": st.integers(min_value=-5, max_value=10**20) | json_values,
    },
)
random_frames = st.one_of(
    st.text(max_size=200),
    json_values.map(json.dumps),
    frame_fields.map(json.dumps),
    st.binary(max_size=200),
)


async def exchange(communicator, frame: str | bytes) -> list[dict]:
    """Send ``frame``, then the sentinel; return every frame answered before it."""
    # send_input, not send_to: send_to refuses empty frames, which a real
    # client can send.
    key = "bytes" if isinstance(frame, bytes) else "text"
    await communicator.send_input({"type": "websocket.receive", key: frame})
    await communicator.send_to(text_data=SENTINEL)
    answers = []
    while True:
        answer = await communicator.receive_json_from(timeout=5)
        if answer.get("type") == "error" and answer.get("client_id") == SENTINEL_ID:
            return answers
        answers.append(answer)


@pytest.mark.parametrize("role", [Role.USER, Role.ADMIN])
@hypothesis_settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(frames=st.lists(random_frames, min_size=1, max_size=5))
async def test_random_frames_never_break_the_socket_or_store_junk(
    make_user, role, frames
):
    owner = await database_sync_to_async(make_user)("ana")
    sender = (
        owner
        if role == Role.USER
        else await database_sync_to_async(make_user)("soporte", role=Role.ADMIN)
    )
    communicator = communicator_for(sender)
    try:
        connected, _ = await communicator.connect(timeout=5)
        assert connected
        assert (await communicator.receive_json_from(timeout=10))["type"] == "hello"
        for frame in frames:
            newest_before = await database_sync_to_async(_newest_id)()
            answers = await exchange(communicator, frame)
            stored = await database_sync_to_async(_ids_after)(newest_before)
            # "conversation": an admin's first reply assigns the thread.
            # Live signals from other sockets' frames (read, typing, ping).
            allowed = {"message", "error", "resumed", "seen", "typing", "pong"}
            if role == Role.ADMIN:
                allowed.add("conversation")
            assert {a["type"] for a in answers} <= allowed
            # Replayed history has old ids; a new message is echoed exactly once.
            echoed = [
                a["id"]
                for a in answers
                if a["type"] == "message" and a["id"] > newest_before
            ]
            assert echoed == stored
            if stored:
                assert isinstance(frame, str) and _is_send(frame)
    finally:
        await communicator.disconnect()
        await database_sync_to_async(_cleanup)()


def _is_send(frame: str) -> bool:
    try:
        parsed = json.loads(frame)
    except ValueError:
        return False
    return isinstance(parsed, dict) and parsed.get("type") == "send"


def _newest_id() -> int:
    newest = Message.objects.order_by("-id").values_list("id", flat=True).first()
    return newest or 0


def _ids_after(newest_before: int) -> list[int]:
    return list(
        Message.objects.filter(id__gt=newest_before)
        .order_by("id")
        .values_list("id", flat=True)
    )


def _cleanup():
    from accounts.models import User
    from chat.models import Thread

    Thread.objects.all().delete()
    Message.objects.all().delete()
    User.objects.all().delete()


async def test_a_deeply_nested_frame_is_bad_json_and_the_socket_lives_on(user):
    communicator, _ = await open_chat(user)
    try:
        await communicator.send_to(text_data="[" * 30_000 + "]" * 30_000)
        error = await communicator.receive_json_from(timeout=5)
        assert error["type"] == "error"
        assert error["code"] == "bad_json"
        await communicator.send_json_to({"type": "send", "text": "sigo"})
        assert (await communicator.receive_json_from(timeout=5))["text"] == "sigo"
    finally:
        await communicator.disconnect()


async def test_a_huge_frame_closes_with_4009(user):
    communicator, _ = await open_chat(user)
    try:
        payload = json.dumps({"type": "send", "text": [[0] * 100] * 300}) * 3
        await communicator.send_to(text_data=payload)
        closing = await communicator.receive_json_from(timeout=5)
        assert closing == {"type": "closing", "code": 4009, "reason": "frame too large"}
        assert (await communicator.receive_output(timeout=5))["code"] == 4009
    finally:
        await communicator.disconnect()
    assert not await database_sync_to_async(Message.objects.exists)()
