"""Clients of a running cluster: HTTP with CSRF, and chat sockets that record
every frame, reconnect and resume. Every wait is bounded."""

import asyncio
import http.cookies
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

HTTP_TIMEOUT_SECONDS = 5
OPEN_TIMEOUT_SECONDS = 5
ANSWER_TIMEOUT_SECONDS = 10
RECONNECT_WITHIN_SECONDS = 15
# Long enough for a duplicate delivery through Redis to show up.
QUIET_SECONDS = 0.5
# The frames that answer a send: its echo (stored), or an error (refused).
ANSWERS = ("message", "error")


class Account(NamedTuple):
    """A user or admin in the cluster's database and a token issued to them."""

    username: str
    token: str
    role: str


@dataclass
class Answer:
    """An HTTP answer: status, parsed JSON body (or text) and how long it took."""

    status: int
    body: Any
    seconds: float
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)


def fetch(
    method: str,
    url: str,
    *,
    token: str | None = None,
    body: Any = None,
    csrf_from: str | None = None,
    csrf: str | None = None,
) -> Answer:
    """One request; 4xx/5xx are answers too. ``csrf_from``: base URL to get a
    ``csrftoken`` from first (or ``csrf``, one got already), sent back as
    cookie and ``X-CSRFToken``."""
    cookies, headers = [], {}
    if token is not None:
        cookies.append(f"token={token}")
    if csrf_from is not None:
        csrf = fetch("GET", csrf_from + "/api/auth/csrf").cookies["csrftoken"]
    if csrf is not None:
        cookies.append(f"csrftoken={csrf}")
        headers["X-CSRFToken"] = csrf
    if cookies:
        headers["Cookie"] = "; ".join(cookies)
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(  # noqa: S310 (loopback http:// URLs)
        url, method=method, data=data, headers=headers
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(  # noqa: S310
            request, timeout=HTTP_TIMEOUT_SECONDS
        ) as response:
            status, raw, got = response.status, response.read(), response.headers
    except urllib.error.HTTPError as err:
        status, raw, got = err.code, err.read(), err.headers
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    jar = http.cookies.SimpleCookie()
    for header in got.get_all("Set-Cookie") or []:
        jar.load(header)
    return Answer(
        status,
        parsed,
        time.monotonic() - started,
        dict(got.items()),
        {name: morsel.value for name, morsel in jar.items()},
    )


async def afetch(method: str, url: str, **kwargs) -> Answer:
    """``fetch`` from async code, in a thread."""
    return await asyncio.to_thread(fetch, method, url, **kwargs)


def open_sockets(url: str) -> float:
    """The ``chat_open_sockets`` gauge of the daphne process at ``url``."""
    text = fetch("GET", url + "/metrics").body
    return float(re.search(r"^chat_open_sockets (\S+)$", text, re.MULTILINE).group(1))


class Dropped(Exception):
    """The socket closed while we were waiting on it."""


@dataclass
class Seen:
    """One frame as received: on which connection, and inside a resume or live."""

    frame: dict[str, Any]
    connection: int
    during_resume: bool


class Peer:
    """A chat client: records every frame, answers ``send`` with its echo or error."""

    def __init__(self, account: Account, base_url: str):
        self.name = account.username
        self.token = account.token
        self.is_admin = account.role == "admin"
        self.base_url = base_url
        self.seen: list[Seen] = []
        self.connections = 0
        self.before_hello: list[dict[str, Any]] = []
        self.drop_codes: list[int | None] = []
        self.close_code: int | None = None
        self.ws: ClientConnection | None = None
        self._reader: asyncio.Task | None = None
        self._changed = asyncio.Condition()
        self._resuming = False
        self._open = False
        self._closing = False

    @classmethod
    async def opened(cls, account: Account, base_url: str) -> "Peer":
        """A peer whose socket is open and greeted (``hello`` received)."""
        peer = cls(account, base_url)
        hello = await peer.connect()
        assert hello["type"] == "hello", hello
        return peer

    @property
    def connected(self) -> bool:
        """The current socket is open."""
        return self._open

    async def connect(self, base_url: str | None = None) -> dict[str, Any]:
        """Open a socket; return its first frame (``hello``, or ``closing``)."""
        base_url = base_url or self.base_url
        self.ws = await connect(
            base_url.replace("http://", "ws://") + "/ws/chat/",
            origin=base_url,
            additional_headers={"Cookie": f"token={self.token}"},
            open_timeout=OPEN_TIMEOUT_SECONDS,
            close_timeout=2,
        )
        self.connections += 1
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), OPEN_TIMEOUT_SECONDS)
            first = json.loads(raw)
            if first["type"] in ("hello", "closing"):
                break
            # PROTOCOL.md 3.1: the first frame is hello. Kept (and counted) so
            # that a server breaking that rule is seen, not papered over.
            self.before_hello.append(first)
            self.seen.append(Seen(first, self.connections, during_resume=False))
        self.close_code = None
        self._open, self._closing = True, False
        self._reader = asyncio.create_task(self._read(self.ws, self.connections))
        return first

    async def _read(self, ws: ClientConnection, connection: int) -> None:
        try:
            async for raw in ws:
                async with self._changed:
                    self.seen.append(Seen(json.loads(raw), connection, self._resuming))
                    self._changed.notify_all()
        except ConnectionClosed:
            pass
        self.close_code = ws.close_code
        if not self._closing:
            self.drop_codes.append(ws.close_code)
        async with self._changed:
            self._open = False
            self._changed.notify_all()

    async def wait_for(
        self, test: Callable[[dict], bool], seconds: float = ANSWER_TIMEOUT_SECONDS
    ) -> dict[str, Any]:
        """The first recorded frame passing ``test``; Dropped if the socket closes."""

        def found() -> dict | None:
            return next((s.frame for s in self.seen if test(s.frame)), None)

        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: found() or not self.connected), seconds
            )
            frame = found()
        if frame is None:
            raise Dropped(f"{self.name}: socket closed ({self.close_code})")
        return frame

    async def send_frame(self, frame: dict) -> None:
        """Write one JSON frame; Dropped if the socket is gone."""
        try:
            await self.ws.send(json.dumps(frame))
        except ConnectionClosed as err:
            raise Dropped(f"{self.name}: {err}") from err

    async def send(self, text: str, client_id: str, to: str | None = None) -> dict:
        """Send a message; its answer: the echo, or an error with ``client_id``."""
        frame = {"type": "send", "text": text, "client_id": client_id}
        if to is not None:
            frame["to"] = to
        await self.send_frame(frame)
        return await self.wait_for(
            lambda f: f.get("client_id") == client_id and f["type"] in ANSWERS
        )

    async def request(self, frame: dict, answer: Callable[[dict], bool]) -> dict:
        """Send any frame; the first frame after it that passes ``answer``."""
        start = len(self.seen)
        await self.send_frame(frame)
        return await self.wait_for(
            lambda f: any(f is s.frame for s in self.seen[start:]) and answer(f)
        )

    async def resume(self, after: int) -> None:
        """Replay everything after ``after``, following ``has_more``."""
        self._resuming = True
        try:
            while True:
                resumed = await self.request(
                    {"type": "resume", "after": after},
                    lambda f: f["type"] in ("resumed", "error"),
                )
                if resumed["type"] == "error" or not resumed["has_more"]:
                    return
                after = resumed["last_id"]
        finally:
            self._resuming = False

    async def reconnect(self) -> None:
        """Connect again (same URL) and resume from the last id seen before."""
        after = self.last_id()
        deadline = time.monotonic() + RECONNECT_WITHIN_SECONDS
        while True:
            try:
                if (await self.connect())["type"] == "hello":
                    break
            except (OSError, InvalidHandshake, TimeoutError, ConnectionClosed):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} could not reconnect")
            await asyncio.sleep(0.2)
        await self.resume(after)

    async def closed(self, seconds: float) -> int | None:
        """Wait until the server closes the socket; its close code."""
        await asyncio.wait_for(asyncio.shield(self._reader), seconds)
        return self.close_code

    async def close(self) -> None:
        """Close the socket and wait for its reader to finish."""
        self._closing = True
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await asyncio.wait_for(self._reader, 5)

    async def quiet(self, seconds: float = QUIET_SECONDS) -> None:
        """Let stray or duplicate frames arrive before counting."""
        await asyncio.sleep(seconds)

    def messages(self, *, live: bool | None = None) -> list[dict[str, Any]]:
        """Message frames received (``live=True``: outside resumes only)."""
        return [
            s.frame
            for s in self.seen
            if s.frame["type"] == "message"
            and (live is None or s.during_resume is not live)
        ]

    def message_ids(self, *, live: bool | None = None) -> list[int]:
        """The ids of ``messages(live=...)``, in arrival order."""
        return [frame["id"] for frame in self.messages(live=live)]

    def live_duplicates(self) -> list[int]:
        """Ids delivered live more than once on one connection (exactly once is due)."""
        seen, duplicates = set(), []
        for s in self.seen:
            if s.frame["type"] == "message" and not s.during_resume:
                key = (s.connection, s.frame["id"])
                if key in seen:
                    duplicates.append(s.frame["id"])
                seen.add(key)
        return duplicates

    def last_id(self) -> int:
        """The highest message id received, 0 before any."""
        return max(self.message_ids(), default=0)

    def acked(self, client_id: str) -> bool:
        """A message with ``client_id`` was received: stored and echoed or replayed."""
        return any(frame.get("client_id") == client_id for frame in self.messages())


# --- the support desk (PROTOCOL.md 4) ---------------------------------------


def conversations_of(peer: Peer) -> list[dict[str, Any]]:
    """The ``conversation`` bodies ``peer`` received, in arrival order."""
    return [
        s.frame["conversation"] for s in peer.seen if s.frame["type"] == "conversation"
    ]


def csrf_token(base_url: str) -> str:
    """A ``csrftoken`` from ``base_url``, for :func:`fetch_with_csrf`."""
    return fetch("GET", base_url + "/api/auth/csrf").cookies["csrftoken"]


def fetch_with_csrf(
    method: str, url: str, *, token: str, csrf: str, body: Any = None
) -> Answer:
    """One request with the token and a ``csrftoken`` fetched beforehand, so
    that requests meant to leave at once (a race) make no other request first."""
    return fetch(method, url, token=token, body=body, csrf=csrf)
