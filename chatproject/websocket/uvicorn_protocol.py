"""uvicorn's sans-I/O WebSocket protocol, writing a fanned-out text's frame as is.

Serve with::

    uvicorn chatproject.asgi:application \\
        --ws chatproject.websocket.uvicorn_protocol:SharedFrameProtocol \\
        --ws-per-message-deflate false

Everything else is uvicorn's ``websockets-sansio`` protocol: the handshake,
websockets' frame parser (unmasking in C, ``websockets.speedups``), pings, the
closing handshake, flow control, and close 1002 / 1007 / 1009 for a client
that breaks RFC 6455. Beyond shortening the hot paths, with the same effect,
it differs in two ways: a socket whose peer stops reading is dropped after
WRITE_TIMEOUT_SECONDS rather than waited for without end, and a peer's close
frame is answered even when bad UTF-8 came in the same read.
"""

import asyncio
import functools
import logging

from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import (
    WebSocketsSansIOProtocol,
)
from websockets.exceptions import InvalidState
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State

from chat.frames import MAX_FRAME_BYTES
from chatproject.websocket.prepared import PreparedText, text_frame

logger = logging.getLogger(__name__)

OPEN = State.OPEN
TEXT, CONT, BINARY = Opcode.TEXT, Opcode.CONT, Opcode.BINARY
PING, PONG, CLOSE = Opcode.PING, Opcode.PONG, Opcode.CLOSE
# The app refuses a text over MAX_FRAME_BYTES itself, with a "closing" frame
# that says why and close 4009; a lower --ws-max-size would preempt that with
# a bare 1009, so it is raised to this. Higher values are used as given.
MIN_MAX_SIZE = MAX_FRAME_BYTES + 1
# The parent waits for a socket's full buffer as long as the peer pleases,
# and what the chat has for that socket piles up meanwhile (chat.hub keeps
# it, in order, without holding up the other sockets). By the time the
# buffer is full, the kernel's (megabytes) is too: a peer that takes nothing
# for this long is not reading, and is dropped; it may reconnect and resume.
WRITE_TIMEOUT_SECONDS = 5.0


class Writable:
    """asyncio.Event's interface for the per-socket "room to write" flag, which
    is nearly always set: no deque of waiters unless someone waits. With
    :class:`Inbox` and the handshake's request and response let go, an idle
    socket costs 4.4 KiB less than with the parent's (tracemalloc), which
    keeps it within the Node original's memory per socket."""

    __slots__ = ("_set", "_waiters")

    def __init__(self):
        self._set = True
        self._waiters: list[asyncio.Future] | None = None

    def is_set(self) -> bool:
        return self._set

    def clear(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(True)

    async def wait(self) -> bool:
        if self._set:
            return True
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            return await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)


class Inbox:
    """asyncio.Queue's interface as the parent uses it (``put_nowait``, ``get``,
    ``empty``; ``get_nowait`` and ``qsize`` too), without a Queue's three
    deques per socket. Reading pauses while it holds a message, so it stays
    short; a list does."""

    __slots__ = ("_getters", "_items")

    def __init__(self):
        self._items: list = []
        self._getters: list[asyncio.Future] | None = None

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)

    def put_nowait(self, item) -> None:
        self._items.append(item)
        getters, self._getters = self._getters, None
        for getter in getters or ():
            if not getter.done():
                getter.set_result(None)

    def get_nowait(self):
        if not self._items:
            raise asyncio.QueueEmpty
        return self._items.pop(0)

    async def get(self):
        while not self._items:
            getter = asyncio.get_running_loop().create_future()
            if self._getters is None:
                self._getters = []
            self._getters.append(getter)
            try:
                await getter
            finally:
                if self._getters is not None and getter in self._getters:
                    self._getters.remove(getter)
        return self._items.pop(0)


@functools.cache
def warn_max_size_raised(configured: int) -> None:
    """Once per process, not per connection."""
    logger.warning(
        "--ws-max-size %d is below the chat's own limit: using %d",
        configured,
        MIN_MAX_SIZE,
    )


class SharedFrameProtocol(WebSocketsSansIOProtocol):
    """One WebSocket. A text the app sends is framed here rather than by the
    sans-I/O connection, and a :class:`PreparedText` not at all."""

    write_timeout = WRITE_TIMEOUT_SECONDS

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.queue = Inbox()
        self.writable = Writable()
        limit = self.conn.max_message_size
        if limit is not None and limit < MIN_MAX_SIZE:
            warn_max_size_raised(limit)
            self.conn.max_message_size = MIN_MAX_SIZE

    async def send(self, message) -> None:
        # The parent has the connection object build a Frame, check it,
        # serialize it into a BytesIO and queue it, then joins and writes the
        # queue. A server frame is never masked, so unless an extension
        # transforms it, it is the same bytes on every socket: write those.
        # Only when the parent would do no more than that, though: a full
        # buffer (waited for first), a handshake or close in progress (the
        # parent answers or refuses) and binary frames go the parent's way.
        if (
            message["type"] == "websocket.send"
            and self.conn.state is OPEN
            and self.handshake_complete
            and not self.close_sent
            and not self.disconnected
            and self.initial_response is None
            and not self.conn.extensions
            and self.writable.is_set()
            and message.get("bytes") is None
        ):
            text = message.get("text")
            if isinstance(text, PreparedText):
                self.transport.write(text.frame)
                return
            if isinstance(text, str):
                self.transport.write(text_frame(text.encode()))
                return
        if not self.writable.is_set():
            await self.wait_writable()
        await super().send(message)
        if self.handshake_complete and self.response is not None:
            # Read only to answer the handshake; the app has the scope.
            self.request = self.response = None

    async def wait_writable(self) -> None:
        # The parent waits for a full buffer to drain for as long as the
        # peer pleases; see WRITE_TIMEOUT_SECONDS. Aborted, not closed: a
        # close would wait for the buffer to drain, too.
        try:
            await asyncio.wait_for(self.writable.wait(), self.write_timeout)
        except TimeoutError:
            logger.warning(
                "WebSocket of %s dropped: its peer read nothing for %g s",
                self.client,
                self.write_timeout,
            )
            self.transport.abort()
            raise ClientDisconnected from None

    def handle_events(self) -> None:
        # The parent's dispatch, text first (a chat's traffic) and by identity
        # (Opcode members are singletons). With handle_text's shortcut, 5-10%
        # less CPU per inbound text frame, measured.
        for event in self.conn.events_received():
            if isinstance(event, Frame):
                opcode = event.opcode
                if opcode is TEXT:
                    self.handle_text(event)
                elif opcode is CONT:
                    self.handle_cont(event)
                elif opcode is BINARY:
                    self.handle_bytes(event)
                elif opcode is PING:
                    self.handle_ping()
                elif opcode is PONG:
                    self.handle_pong(event)
                elif opcode is CLOSE:
                    self.handle_close(event)
            elif isinstance(event, Request):
                self.handle_connect(event)

    def handle_text(self, event: Frame) -> None:
        # A message in one frame, nearly every message a chat gets, skips the
        # parent's list of fragments. A first fragment, bad UTF-8 (which the
        # parent fails with 1007) or a closing socket take the parent's way.
        if event.fin and not self.close_sent:
            try:
                text = event.data.decode()
            except UnicodeDecodeError:
                pass
            else:
                self.curr_msg_data_type = "text"
                self.queue.put_nowait({"type": "websocket.receive", "text": text})
                if not self.read_paused:
                    self.read_paused = True
                    self.transport.pause_reading()
                return
        super().handle_text(event)

    def send_receive_event_to_app(self) -> None:
        try:
            super().send_receive_event_to_app()
        except InvalidState:
            # Bad UTF-8, which the parent fails with 1007, in the same read as
            # the peer's close frame: websockets has queued the reply to that
            # already and refuses a second close, and the parent would let
            # InvalidState escape data_received, dropping the connection
            # without the reply. End it as the peer asked instead, now;
            # close_sent keeps the rest of the read from the app. (No close
            # received means the server's own went first, shutting down.)
            close = self.conn.close_rcvd or self.conn.close_sent
            self.queue.put_nowait(
                {
                    "type": "websocket.disconnect",
                    "code": close.code,
                    "reason": close.reason,
                }
            )
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.close_sent = True
            self.transport.close()
