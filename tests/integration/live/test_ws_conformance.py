"""RFC 6455 over real sockets, against uvicorn serving with SharedFrameProtocol
(chatproject.websocket.uvicorn_protocol), started as README's "Production"
command line (``server_command``) plus a --ws-max-size of 100,000: above
the app's 64 KiB, so that both limits can be reached. The clients are two
independent implementations, Python's websockets and Node's ws; Chromium's
is in tests/browser/test_shared_frame_protocol.py.
"""

import asyncio
import itertools
import json
import os
import socket
import struct
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

from accounts.models import Role
from chat.frames import CLOSE_FRAME_TOO_LARGE, CLOSE_REASONS
from chat.limits import SEND
from chatproject.websocket.uvicorn_protocol import WRITE_TIMEOUT_SECONDS
from tests.conftest import cookie_with_token, free_port, token_for
from tests.integration.live.conftest import (
    BASE_DIR,
    CLOSE_TIMEOUT_SECONDS,
    OPEN_TIMEOUT_SECONDS,
    DaphneServer,
    daphne_env,
    open_socket,
    server_command,
)
from tests.integration.live.wire import ChatSocket, frames_until_close
from tests.node_packages import node_tool, npm_ci
from tests.servers import running_server

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

PROTOCOL_CLASS = "chatproject.websocket.uvicorn_protocol:SharedFrameProtocol"
MAX_SIZE = 100_000
NODE_CLIENT = Path(__file__).parent / "node_ws_client"
NODE_TIMEOUT_SECONDS = 30
# The backpressure test: SENDERS users' messages of 4,000 characters (the
# most a message may have), each 4 bytes in UTF-8.
SENDERS = 8
BIG_TEXT = "🙂" * 4_000
BIG_MESSAGE_BYTES = len(BIG_TEXT.encode())
BACKLOG_SECONDS = 30


@dataclass(frozen=True)
class Uvicorn:
    server: DaphneServer
    process: subprocess.Popen

    def rss_bytes(self) -> int:
        """The server process's resident memory, from /proc."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        kib = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
        return int(kib.split()[1]) * 1024


@pytest.fixture(scope="module")
def uvicorn(django_db_setup, tmp_path_factory) -> Iterator[Uvicorn]:
    """One uvicorn for this module, on the test database, in-memory layer."""
    port = free_port()
    argv = [*server_command("uvicorn", port), "--ws-max-size", str(MAX_SIZE)]
    assert argv[argv.index("--ws") + 1] == PROTOCOL_CLASS
    log_path = tmp_path_factory.mktemp("uvicorn-conformance") / "server.log"
    with running_server(
        argv,
        port=port,
        log_path=log_path,
        cwd=BASE_DIR,
        env=daphne_env("memory", None),
    ) as process:
        yield Uvicorn(DaphneServer("memory", port, log_path), process)


@pytest.fixture
async def opened() -> AsyncIterator[list[ClientConnection]]:
    """Closes at teardown every connection the test registers."""
    connections: list[ClientConnection] = []
    yield connections
    for ws in connections:
        await ws.close()


@pytest.fixture
def people(make_user) -> dict[str, str]:
    """A user and an admin by username, each with a fresh token."""
    made = [
        make_user("ana", name="Ana García"),
        make_user("soporte", role=Role.ADMIN, name="Soporte"),
    ]
    return {user.username: token_for(user) for user in made}


async def chat_on(uvicorn: Uvicorn, token: str, opened: list) -> ChatSocket:
    """A signed-in socket, its hello read."""
    ws = await open_socket(uvicorn.server, cookie=cookie_with_token(token))
    opened.append(ws)
    chat = ChatSocket(ws)
    chat.hello = await chat.recv_json()
    assert chat.hello["type"] == "hello", chat.hello
    return chat


def send_frame(text: str, client_id: str, **extra) -> str:
    frame = {"type": "send", "text": text, "client_id": client_id, **extra}
    return json.dumps(frame, ensure_ascii=False)


async def closed_with(ws: ClientConnection) -> tuple[int | None, str | None]:
    """Read until the server closes: its close frame's code and reason."""
    _, code = await frames_until_close(ws)
    assert ws.close_code == code
    return code, ws.close_reason


# The Python websockets client.


async def test_hello_then_a_user_and_the_team_talk(uvicorn, people, opened):
    ana = await chat_on(uvicorn, people["ana"], opened)
    team = await chat_on(uvicorn, people["soporte"], opened)
    assert (ana.hello["user"], ana.hello["rol"]) == ("ana", "user")
    assert (team.hello["user"], team.hello["rol"]) == ("soporte", "admin")

    await ana.ws.send(send_frame("¿Enviáis a Canarias? 🙂", "c-1"))
    question = await ana.recv_json()
    assert question == await team.recv_json()
    assert (question["type"], question["from"], question["client_id"]) == (
        "message",
        "ana",
        "c-1",
    )
    assert question["text"] == "¿Enviáis a Canarias? 🙂"

    await team.ws.send(send_frame("Sí, en 48 h.", "c-2", to="ana"))
    reply = await ana.recv_json()
    assert reply == await team.recv_json()
    assert (reply["from"], reply["thread"], reply["text"]) == (
        "soporte",
        "ana",
        "Sí, en 48 h.",
    )
    await ana.assert_quiet()


async def test_a_message_in_fragments_is_reassembled(uvicorn, people, opened):
    ana = await chat_on(uvicorn, people["ana"], opened)
    text = "en trozos: ñandú 🙂 €"
    message = send_frame(text, "f-1").encode()
    # Cut inside the emoji too: only the whole message must be UTF-8.
    emoji_at = message.index("🙂".encode())
    cuts = [0, 5, emoji_at + 1, emoji_at + 3, len(message)]
    fragments = [message[a:b] for a, b in itertools.pairwise(cuts)]
    await ana.ws.send(fragments, text=True)
    echo = await ana.recv_json()
    assert (echo["type"], echo["text"], echo["client_id"]) == ("message", text, "f-1")


async def test_a_ping_gets_its_pong_and_the_socket_carries_on(uvicorn, people, opened):
    ana = await chat_on(uvicorn, people["ana"], opened)
    for payload in (b"", b"\x00\xff binary", b"x" * 125):
        pong = await ana.ws.ping(payload)
        # websockets resolves the waiter only for a pong with this payload.
        await asyncio.wait_for(pong, 5)
    echo = await ana.roundtrip("sigo aquí", "p-1")
    assert (echo["type"], echo["text"]) == ("message", "sigo aquí")


async def test_a_text_over_64_kib_is_refused_by_the_app_with_4009_and_its_reason(
    uvicorn, people, opened
):
    ana = await chat_on(uvicorn, people["ana"], opened)
    await ana.ws.send(send_frame("x" * 80 * 1024, "big"))
    code, reason = await closed_with(ana.ws)
    assert (code, reason) == (CLOSE_FRAME_TOO_LARGE, "frame too large")
    assert reason == CLOSE_REASONS[CLOSE_FRAME_TOO_LARGE]


@pytest.mark.parametrize(
    "fragments",
    [["x" * (MAX_SIZE + 1)], ["x" * 60_000, "x" * 60_000]],
    ids=["one_frame", "in_fragments"],
)
async def test_a_message_over_ws_max_size_is_refused_by_the_server_with_1009(
    uvicorn, people, opened, fragments
):
    ana = await chat_on(uvicorn, people["ana"], opened)
    await ana.ws.send(fragments if len(fragments) > 1 else fragments[0])
    code, _ = await closed_with(ana.ws)
    assert code == 1009


async def test_a_message_of_exactly_ws_max_size_reaches_the_app(
    uvicorn, people, opened
):
    ana = await chat_on(uvicorn, people["ana"], opened)
    await ana.ws.send("x" * MAX_SIZE)
    # The app's answer, not the server's: 4009, past its own 64 KiB.
    code, reason = await closed_with(ana.ws)
    assert (code, reason) == (CLOSE_FRAME_TOO_LARGE, "frame too large")


async def test_the_peers_close_is_answered_after_bad_utf8_in_the_same_read(
    uvicorn, people, opened
):
    """uvicorn's stock sans-I/O protocol drops the connection here without a
    close reply (InvalidState escapes its data_received)."""
    ana = await chat_on(uvicorn, people["ana"], opened)
    bad_text = Frame(Opcode.TEXT, b"\xff\xfe").serialize(mask=True)
    close = Frame(Opcode.CLOSE, struct.pack("!H", 1000) + b"bye").serialize(mask=True)
    ana.ws.transport.write(bad_text + close)  # one write: one read on loopback
    code, reason = await closed_with(ana.ws)
    assert (code, reason) == (1000, "bye")


async def stalled_admin(uvicorn: Uvicorn, token: str, opened: list) -> ChatSocket:
    """An admin socket whose client stops reading after hello: a small
    receive buffer, and the client library pausing after one frame."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", uvicorn.server.port))
    sock.setblocking(False)
    ws = await connect(
        uvicorn.server.ws_url,
        sock=sock,
        origin=uvicorn.server.origin,
        additional_headers={"Cookie": cookie_with_token(token)},
        open_timeout=OPEN_TIMEOUT_SECONDS,
        close_timeout=CLOSE_TIMEOUT_SECONDS,
        max_queue=1,
        ping_interval=None,
    )
    opened.append(ws)
    chat = ChatSocket(ws)
    chat.hello = await chat.recv_json()
    return chat


def stall_bytes() -> int:
    """Enough to fill a socket nobody reads: the kernel's send buffer, which
    grows up to tcp_wmem's maximum, then uvicorn's own 64 KiB, and to spare."""
    wmem_max = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    return wmem_max + 2 * 1024 * 1024


@pytest.fixture
def crowd(make_user) -> tuple[list[str], str, str]:
    """Tokens of SENDERS users, of an admin who reads and of one who won't."""
    users = [make_user(f"cliente{i}") for i in range(SENDERS)]
    reader = make_user("soporte", role=Role.ADMIN)
    stalled = make_user("lento", role=Role.ADMIN)
    return [token_for(u) for u in users], token_for(reader), token_for(stalled)


async def test_a_client_that_stops_reading_is_dropped_and_holds_back_no_one(
    uvicorn, crowd, opened
):
    user_tokens, reader_token, stalled_token = crowd
    senders = [await chat_on(uvicorn, token, opened) for token in user_tokens]
    team = await chat_on(uvicorn, reader_token, opened)
    stalled = await stalled_admin(uvicorn, stalled_token, opened)
    rss_before = uvicorn.rss_bytes()

    # The admin who does not read gets every message: enough rounds of every
    # sender's whole burst to fill that socket, each round once the last is
    # answered and the senders' buckets are full again.
    per_round = SENDERS * SEND.burst * BIG_MESSAGE_BYTES
    rounds = -(-stall_bytes() // per_round)

    async def read_all(chat: ChatSocket, expected: set[str]) -> None:
        got: set[str] = set()
        while got != expected:
            frame = await chat.recv_json(BACKLOG_SECONDS)
            assert frame["type"] == "message", frame
            assert frame["client_id"] not in got, "delivered twice"
            got.add(frame["client_id"])

    started = time.monotonic()
    for r in range(rounds):
        if r:
            await asyncio.sleep(SEND.burst / SEND.per_second + 0.5)
        sent = {
            i: {f"{i}-{r}-{n:02d}" for n in range(SEND.burst)} for i in range(SENDERS)
        }
        for i, chat in enumerate(senders):
            for client_id in sorted(sent[i]):
                await chat.ws.send(send_frame(BIG_TEXT, client_id))
        # Everyone else gets all of it, held up WRITE_TIMEOUT_SECONDS at most.
        await asyncio.wait_for(
            asyncio.gather(
                read_all(team, set().union(*sent.values())),
                *(read_all(chat, sent[i]) for i, chat in enumerate(senders)),
            ),
            BACKLOG_SECONDS,
        )
    elapsed = time.monotonic() - started
    assert elapsed < rounds * 3 + WRITE_TIMEOUT_SECONDS + 10

    # The others were not held up (chat.hub delivers to a socket that must
    # wait in a task of its own); the server drops the socket that takes
    # nothing once it has waited WRITE_TIMEOUT_SECONDS for room (no close
    # frame can get through): reading it then ends soon, short of the backlog.
    await asyncio.sleep(WRITE_TIMEOUT_SECONDS + 1)
    got = 0
    with pytest.raises(ConnectionClosed) as dropped:
        async with asyncio.timeout(5):
            while True:
                await stalled.ws.recv()
                got += 1
    assert dropped.value.rcvd is None
    assert got < rounds * SENDERS * SEND.burst
    # Nothing kept for it meanwhile beyond its buffer: a coarse bound.
    assert uvicorn.rss_bytes() - rss_before < 64 * 1024 * 1024


# Node's ws client.


WHY = "the conformance tests run Node's ws client"


def node_round_trip(settings: dict) -> dict:
    npm_ci(NODE_CLIENT, "ws", WHY)
    done = subprocess.run(
        [node_tool("node", WHY), str(NODE_CLIENT / "chat_client.js")],
        input=json.dumps(settings),
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_SECONDS,
        env={**os.environ, "NODE_PATH": str(NODE_CLIENT / "node_modules")},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def test_nodes_ws_client_gets_hello_and_its_echo_and_closes_cleanly(
    uvicorn, people, opened
):
    team = await chat_on(uvicorn, people["soporte"], opened)
    seen = await asyncio.to_thread(
        node_round_trip,
        {
            "url": uvicorn.server.ws_url,
            "origin": uvicorn.server.origin,
            "cookie": cookie_with_token(people["ana"]),
            "text": "desde Node: ñandú 🙂",
            "clientId": "node-1",
        },
    )
    hello, echo = seen["frames"]
    assert (hello["type"], hello["user"]) == ("hello", "ana")
    assert (echo["type"], echo["text"], echo["client_id"]) == (
        "message",
        "desde Node: ñandú 🙂",
        "node-1",
    )
    # The client closed with 1000 "done"; the server echoed it.
    assert (seen["closeCode"], seen["closeReason"]) == (1000, "done")
    assert await team.recv_json() == echo
