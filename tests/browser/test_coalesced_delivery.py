"""Coalesced delivery in the page: when many people write at the same moment,
the support page's socket (``?coalesce=1``) gets their messages in joined
``messages`` frames, and the inbox and the open conversation still show every
message exactly once, in id order (docs/api.md)."""

import asyncio
import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from playwright.sync_api import Page, WebSocket, WebSocketRoute, expect
from websockets.asyncio.client import connect

from accounts.models import Role
from chat.services import message_store
from tests.browser.chat_page import (
    conversation,
    expect_connected,
    expect_stored,
    shown_ids,
)
from tests.conftest import cookie_with_token, token_for
from tests.integration.live.conftest import CLOSE_TIMEOUT_SECONDS, OPEN_TIMEOUT_SECONDS
from tests.integration.live.wire import RECV_TIMEOUT_SECONDS, ChatSocket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

USERS = [f"cliente{number:02d}" for number in range(10)]
# The conversation the admin keeps open while the messages pour in.
OPEN = USERS[0]
# Every person writes from two sockets at once (two tabs), so one batch holds
# several messages of each conversation; and sends two messages back to back
# on each, and the server reads a socket's second frame only once its first
# is stored, so the seconds make another batch.
SIDES = ("a", "b")
WORDS = ("uno", "dos")
FIRST_QUESTION = "Hola, ¿hay alguien?"
# The team's answer in the open conversation, stored in a batch of its own
# just before everyone writes.
REPLY = "Un momento, por favor."
REPLY_ID = "soporte-reply"
# Batches start at least this far apart. The reply starts a batch; every
# message of the burst arrives well within this time after it, so each wave
# of the burst makes one batch.
BATCH_SPACING_MS = "200"
BURST_TIMEOUT_SECONDS = 60

Frame = dict[str, Any]


def client_id_of(user: str, side: str, word: str) -> str:
    return f"{user}-{side}-{word}"


# client_id -> (thread, text) of every message the test sends over sockets.
SENT = {
    **{
        client_id_of(user, side, word): (user, f"{user} {side}: {word}")
        for user in USERS
        for side in SIDES
        for word in WORDS
    },
    REPLY_ID: (OPEN, REPLY),
}


@pytest.fixture
def people(make_user) -> dict:
    people = {user: make_user(user, name=f"Cliente {user[-2:]}") for user in USERS}
    people["soporte"] = make_user("soporte", role=Role.ADMIN, name="Soporte")
    return people


@dataclass
class Burst:
    """What the raw sockets saw while every person wrote at once."""

    # Frames of a second admin socket that asked for coalescing, in order.
    admin_frames: list[Frame]
    # (user, side) -> the frames that person's plain socket got, in order.
    at_users: dict[tuple[str, str], list[Frame]]


@dataclass
class PageFrames:
    """Every frame the page's chat socket received, seen through the browser."""

    urls: list[str] = field(default_factory=list)
    received: list[Frame] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("websocket", self._socket)

    def _socket(self, ws: WebSocket) -> None:
        if "/ws/chat/" not in ws.url:
            return
        self.urls.append(ws.url)
        ws.on(
            "framereceived", lambda payload: self.received.append(json.loads(payload))
        )


class OutOfOrder:
    """Routes the page's chat socket through the test, which hands the page
    the server's messages out of id order, as several processes relaying
    through Redis may.

    Every joined frame reaches the page with its messages reversed; the
    team's reply (a single ``message`` frame) is held back until the next
    frame has gone on; and the first joined frame is delivered again, just
    before the frame that completes the burst.
    """

    def __init__(self, expected: int):
        # Messages the server sends the page once it has caught up.
        self.expected = expected
        self.urls: list[str] = []
        self.from_server: list[Frame] = []
        self.to_page: list[Frame] = []
        self.held: Frame | None = None
        self.repeated = False

    def route(self, page: Page) -> None:
        page.route_web_socket(lambda url: "/ws/chat/" in url, self._connect)

    def _connect(self, ws: WebSocketRoute) -> None:
        self.urls.append(ws.url)
        # What the page sends still goes to the server unchanged.
        server = ws.connect_to_server()
        server.on_message(lambda payload: self._from_server(ws, payload))

    def _from_server(self, ws: WebSocketRoute, payload: str | bytes) -> None:
        frame = json.loads(payload)
        self.from_server.append(frame)
        if frame["type"] == "messages":
            frame = {**frame, "messages": frame["messages"][::-1]}
        if frame.get("client_id") == REPLY_ID and self.held is None:
            self.held = frame
            return
        if (
            not self.repeated
            and len(delivered(self.from_server)) == self.expected
            and joined(self.to_page)
        ):
            self.repeated = True
            self._deliver(ws, joined(self.to_page)[0])
        self._deliver(ws, frame)
        if self.held is not None and frame["type"] in ("message", "messages"):
            held, self.held = self.held, None
            self._deliver(ws, held)

    def _deliver(self, ws: WebSocketRoute, frame: Frame) -> None:
        self.to_page.append(frame)
        ws.send(json.dumps(frame))


def delivered(frames: list[Frame]) -> list[Frame]:
    """The messages in ``frames``, in the order they arrived, joined ones unpacked."""
    messages = []
    for frame in frames:
        if frame["type"] == "messages":
            messages.extend(frame["messages"])
        elif frame["type"] == "message":
            messages.append(frame)
    return messages


def joined(frames: list[Frame]) -> list[Frame]:
    return [frame for frame in frames if frame["type"] == "messages"]


class MessageSocket(ChatSocket):
    """A ChatSocket that sets the live signals aside in ``signals``: the admin's
    page reads the open conversation as the burst comes in, and each read tells
    that person's sockets (``seen``, PROTOCOL.md 5.3); this test counts messages.
    """

    SIGNALS = frozenset({"seen", "typing"})

    def __init__(self, ws):
        super().__init__(ws)
        self.signals: list[Frame] = []

    async def recv_json(self, seconds: float = RECV_TIMEOUT_SECONDS) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            frame = await super().recv_json(max(deadline - loop.time(), 0))
            if frame.get("type") not in self.SIGNALS:
                return frame
            self.signals.append(frame)


async def open_chat(server, token: str, query: str = "") -> ChatSocket:
    ws = await connect(
        server.ws_url + query,
        origin=server.http_url,
        additional_headers={"Cookie": cookie_with_token(token)},
        open_timeout=OPEN_TIMEOUT_SECONDS,
        close_timeout=CLOSE_TIMEOUT_SECONDS,
    )
    chat = MessageSocket(ws)
    chat.hello = await chat.recv_json()
    assert chat.hello["type"] == "hello", chat.hello
    return chat


async def send(chat: ChatSocket, client_id: str, **extra: Any) -> None:
    await chat.send_json(
        {"type": "send", "text": SENT[client_id][1], "client_id": client_id, **extra}
    )


async def everyone_writes_at_once(
    server, user_tokens: dict[str, str], admin_token: str
) -> Burst:
    """The team replies in the open conversation, then everyone writes at once."""
    sockets: list[ChatSocket] = []
    try:
        watcher = await open_chat(server, admin_token, "?coalesce=1")
        sockets.append(watcher)
        assert watcher.hello.get("coalesce") is True, watcher.hello
        keys = [(user, side) for user in USERS for side in SIDES]
        senders = await asyncio.gather(
            *(open_chat(server, user_tokens[user]) for user, _ in keys)
        )
        sockets.extend(senders)
        assert not any("coalesce" in chat.hello for chat in senders)

        await send(watcher, REPLY_ID, to=OPEN)
        reply = await watcher.recv_json()
        assert reply["type"] == "message" and reply["client_id"] == REPLY_ID, reply

        async def write(chat: ChatSocket, user: str, side: str) -> list[Frame]:
            for word in WORDS:
                await send(chat, client_id_of(user, side, word))
            # Every message of the conversation, from both sides, and the
            # team's reply in the open one.
            return await chat.read_then_quiet(len(SIDES) * len(WORDS) + (user == OPEN))

        at_users = await asyncio.gather(
            *(
                write(chat, user, side)
                for chat, (user, side) in zip(senders, keys, strict=True)
            )
        )
        admin_frames: list[Frame] = [reply]
        while len(delivered(admin_frames)) < len(SENT):
            admin_frames.append(await watcher.recv_json())
        await watcher.assert_quiet()
        return Burst(
            admin_frames=admin_frames,
            at_users=dict(zip(keys, at_users, strict=True)),
        )
    finally:
        for chat in sockets:
            await chat.ws.close()


def burst_into_an_open_inbox(people, open_context, start_server, before_load):
    """The admin's page, open on the first person's conversation (one old
    message), then everyone writes at once: (page, its conversation buttons,
    the old message, the burst). ``before_load(page)`` runs before the page
    loads (to watch or reroute its socket)."""
    first = message_store(sender=people[OPEN], text=FIRST_QUESTION)
    user_tokens = {user: token_for(people[user]) for user in USERS}
    admin_token = token_for(people["soporte"])
    server = start_server(CHAT_BATCH_SPACING_MS=BATCH_SPACING_MS)

    page = open_context(server=server, user=people["soporte"]).new_page()
    before_load(page)
    # Every conversation, newest first: the "All" view.
    page.goto("/support?view=all")
    expect_connected(page)
    conversations = page.locator("#conversations button.conv")
    expect(conversations).to_have_count(1)
    conversation(page, OPEN).click()
    expect_stored(page, FIRST_QUESTION)

    with ThreadPoolExecutor(max_workers=1) as pool:
        burst = pool.submit(
            asyncio.run, everyone_writes_at_once(server, user_tokens, admin_token)
        ).result(timeout=BURST_TIMEOUT_SECONDS)
    return page, conversations, first, burst


def expect_inbox_and_open_thread(page, conversations, thread_of, first) -> None:
    """All conversations newest first, each previewing its highest id and
    counting its person's messages as unread (none in the open one); the
    open conversation shows its messages once each, in id order."""
    newest_first = sorted(USERS, key=lambda user: -thread_of(user)[-1]["id"])
    for position, user in enumerate(newest_first):
        expect(conversations.nth(position)).to_have_attribute("data-user", user)
    unread = str(len(SIDES) * len(WORDS))
    for user in USERS:
        row = conversation(page, user)
        expect(row.locator(".conv__name")).to_have_text(f"Cliente {user[-2:]}")
        expect(row.locator(".conv__preview")).to_have_text(thread_of(user)[-1]["text"])
        badge = row.locator(".badge")
        if user == OPEN:
            expect(badge).to_have_count(0)
        else:
            expect(badge.locator("[aria-hidden='true']")).to_have_text(unread)
            expect(badge.locator(".visually-hidden")).to_have_text(
                f"{unread} unread messages"
            )
    shown = page.locator("#messages li[data-id]")
    expect(shown.locator(".msg__text")).to_have_text(
        [FIRST_QUESTION, *(m["text"] for m in thread_of(OPEN))]
    )
    assert shown_ids(page) == [first["id"], *(m["id"] for m in thread_of(OPEN))]


def expect_each_other_conversation_once(page, conversations, thread_of) -> None:
    shown = page.locator("#messages li[data-id]")
    for user in USERS[1:]:
        conversation(page, user).click()
        expect(page.locator("#thread-subtitle")).to_have_text(user)
        expect(shown.locator(".msg__text")).to_have_text(
            [m["text"] for m in thread_of(user)]
        )
        assert shown_ids(page) == [m["id"] for m in thread_of(user)]
        expect(conversation(page, user).locator(".badge")).to_have_count(0)
    expect(conversations).to_have_count(len(USERS))
    expect(
        page.locator("#messages li.msg--pending, #messages li.msg--failed")
    ).to_have_count(0)


def test_an_inbox_fed_coalesced_frames_shows_each_message_once_in_id_order(
    people, open_context, start_server
):
    page_frames = PageFrames()
    page, conversations, first, burst = burst_into_an_open_inbox(
        people, open_context, start_server, page_frames.watch
    )

    # On the wire. The coalescing admin socket got every message once, in id
    # order, in fewer frames than messages.
    at_admin = delivered(burst.admin_frames)
    stored = {message["client_id"]: message for message in at_admin}
    assert len(at_admin) == len(SENT)
    assert sorted(stored) == sorted(SENT), [m["client_id"] for m in at_admin]
    assert [m["id"] for m in at_admin] == sorted(m["id"] for m in at_admin)
    for client_id, thread_and_text in SENT.items():
        message = stored[client_id]
        assert (message["thread"], message["text"]) == thread_and_text, message
    assert len(burst.admin_frames) < len(at_admin)
    # Batching really happened, and joined several messages of one
    # conversation into one frame (what the page must apply in order).
    assert any(
        max(Counter(m["thread"] for m in frame["messages"]).values()) > 1
        for frame in joined(burst.admin_frames)
    ), [[m["client_id"] for m in delivered([f])] for f in burst.admin_frames]

    def thread_of(user: str) -> list[Frame]:
        return [m for m in at_admin if m["thread"] == user]

    # Each person's plain sockets got one message frame per message of their
    # conversation, in id order, each the very same as its joined copy.
    for (user, _), frames in burst.at_users.items():
        assert [frame["type"] for frame in frames] == ["message"] * len(frames)
        assert frames == thread_of(user)

    # In the page: all ten conversations, newest first, each previewing its
    # last message and counting its unread ones (none in the open one).
    expect(conversations).to_have_count(len(USERS))
    # The open conversation took its live messages once each, in id order.
    expect_inbox_and_open_thread(page, conversations, thread_of, first)

    # The page's own socket asked for coalescing and got the very frames the
    # raw admin socket got: every message of the burst, once, in id order.
    assert len(page_frames.urls) == 1, page_frames.urls
    assert page_frames.urls[0].endswith("/ws/chat/?coalesce=1")
    hello, *live = without_conversations(page_frames.received)
    assert hello["type"] == "hello" and hello.get("coalesce") is True, hello
    assert [f["type"] for f in live[:1]] == ["resumed"], live[:1]
    assert live[1:] == burst.admin_frames

    # Every other conversation, opened, shows its messages once, in id order.
    expect_each_other_conversation_once(page, conversations, thread_of)


# Frames beside the stream of messages: the desk's (the first replies of the
# burst assign threads), the live signals (the team's presence after hello,
# read marks) and the answers to the page's pings. Each socket gets them at
# its own point among the messages, and the raw sockets set them aside.
BESIDE_MESSAGES = frozenset({"conversation", "presence", "seen", "typing", "pong"})


def without_conversations(frames: list[Frame]) -> list[Frame]:
    """The frames but those beside the stream of messages (BESIDE_MESSAGES)."""
    return [frame for frame in frames if frame["type"] not in BESIDE_MESSAGES]


def test_an_inbox_fed_messages_out_of_id_order_counts_and_shows_each_once(
    people, open_context, start_server
):
    router = OutOfOrder(expected=len(SENT))
    page, conversations, first, burst = burst_into_an_open_inbox(
        people, open_context, start_server, router.route
    )
    at_admin = delivered(burst.admin_frames)
    assert [m["id"] for m in at_admin] == sorted(m["id"] for m in at_admin)

    def thread_of(user: str) -> list[Frame]:
        return [m for m in at_admin if m["thread"] == user]

    # The page has taken every frame once the newest conversation previews
    # the burst's last message: the frame that carries it went last, after
    # the repeated one.
    newest_first = sorted(USERS, key=lambda user: -thread_of(user)[-1]["id"])
    expect(conversations).to_have_count(len(USERS))
    expect(conversation(page, newest_first[0]).locator(".conv__preview")).to_have_text(
        at_admin[-1]["text"]
    )

    # The server sent the page what it sent the raw admin socket; the page got
    # every message, each conversation's first out of id order, and some
    # twice.
    assert len(router.urls) == 1, router.urls
    assert router.urls[0].endswith("/ws/chat/?coalesce=1")
    hello, resumed, *live = without_conversations(router.from_server)
    assert hello["type"] == "hello" and hello.get("coalesce") is True, hello
    assert resumed["type"] == "resumed", resumed
    assert live == burst.admin_frames
    assert router.held is None and router.repeated
    at_page = delivered(router.to_page)
    assert {m["id"] for m in at_page} == {m["id"] for m in at_admin}
    assert len(at_page) > len(at_admin)
    for user in USERS:
        # In the order of first arrival, repeats aside.
        ids = list(dict.fromkeys(m["id"] for m in at_page if m["thread"] == user))
        assert ids != sorted(ids), (user, ids)

    # Each conversation counts every message its person sent, once (not one
    # per frame, nor the repeated ones twice), and previews its highest id.
    # The open conversation shows its messages once each, in id order, the
    # held-back reply among them in its place.
    expect_inbox_and_open_thread(page, conversations, thread_of, first)

    # Every other conversation, opened, shows its messages once, in id order.
    expect_each_other_conversation_once(page, conversations, thread_of)
