"""A real SMTP server for the tests (aiosmtpd on a free loopback port) that
keeps what it receives, and can be told to refuse or to go away.

``with running_mailbox() as mailbox``: ``mailbox.port``; ``mailbox.messages``
(``email.message.EmailMessage``, parsed as a mail client would); and
``mailbox.wait_for(count)``. ``mailbox.refuse(code)`` makes it answer every
message with that SMTP code (451: try later; 550: no such mailbox) until
``refuse(None)``; ``mailbox.stop()`` / ``start()`` take it down and up.
"""

import email
import email.policy
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage

from aiosmtpd.controller import Controller

WAIT_SECONDS = 10


class _Handler:
    def __init__(self, mailbox: "Mailbox"):
        self.mailbox = mailbox

    async def handle_DATA(self, server, session, envelope):
        code = self.mailbox.refusing
        if code is not None:
            return f"{code} refused by the test"
        message = email.message_from_bytes(
            envelope.original_content or envelope.content, policy=email.policy.default
        )
        with self.mailbox.changed:
            self.mailbox.messages.append(message)
            self.mailbox.envelopes.append(list(envelope.rcpt_tos))
            self.mailbox.changed.notify_all()
        return "250 OK"


class Mailbox:
    def __init__(self, port: int):
        self.port = port
        self.messages: list[EmailMessage] = []
        self.envelopes: list[list[str]] = []
        self.refusing: int | None = None
        self.changed = threading.Condition()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(
            _Handler(self), hostname="127.0.0.1", port=self.port
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def refuse(self, code: int | None) -> None:
        self.refusing = code

    def to(self, address: str) -> list[EmailMessage]:
        """The messages received for ``address``."""
        return [
            m
            for m, rcpt in zip(self.messages, self.envelopes, strict=True)
            if address in rcpt
        ]

    def wait_for(
        self, count: int, address: str | None = None, seconds: float = WAIT_SECONDS
    ) -> list[EmailMessage]:
        """Wait until ``count`` messages (for ``address``) have arrived; them."""
        deadline = time.monotonic() + seconds
        with self.changed:
            while True:
                got = self.to(address) if address else list(self.messages)
                if len(got) >= count:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{len(got)} of {count} emails within {seconds} s"
                    )
                self.changed.wait(left)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_mailbox() -> Iterator[Mailbox]:
    mailbox = Mailbox(_free_port())
    mailbox.start()
    try:
        yield mailbox
    finally:
        mailbox.stop()


def text_of(message: EmailMessage) -> str:
    """The plain-text part of ``message``."""
    return message.get_body(preferencelist=("plain",)).get_content()


def html_of(message: EmailMessage) -> str:
    """The HTML part of ``message``."""
    return message.get_body(preferencelist=("html",)).get_content()
