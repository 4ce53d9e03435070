"""A text that knows its own WebSocket frame, built once for all its sockets.

ASGI hands each socket's server a ``str`` to frame, so a message fanned out
to N sockets is UTF-8 encoded and framed N times. A :class:`PreparedText`
is still a ``str`` (any ASGI server sends it as one), but it also carries
the bytes of the unmasked, uncompressed text frame, built on first use and
kept: a server that knows the type (``chatproject.websocket.uvicorn_protocol``)
writes those bytes to every socket as they are. Server-to-client frames are
never masked (RFC 6455 5.1), so the same bytes are right for every socket
that has not negotiated an extension.
"""

import struct
from functools import cached_property

FIN_TEXT = 0x81  # FIN bit set, opcode 1 (text): one whole message per frame


def text_frame(payload: bytes) -> bytes:
    """One unmasked, final text frame carrying ``payload`` (UTF-8), as RFC 6455 5.2."""
    length = len(payload)
    if length < 126:
        header = bytes((FIN_TEXT, length))
    elif length < 1 << 16:
        header = struct.pack("!BBH", FIN_TEXT, 126, length)
    else:
        header = struct.pack("!BBQ", FIN_TEXT, 127, length)
    return header + payload


class PreparedText(str):
    """A ``str`` whose WebSocket frame is built once, however many sockets get it."""

    @cached_property
    def frame(self) -> bytes:
        return text_frame(self.encode())
