"""WebSocket auth: scope headers -> cookies -> ``tokens.verify`` -> ``scope["user"]``.

It sits inside the same-origin check (chat.origin): a page on another origin cannot
make a browser open a socket with our cookie (cross-site WebSocket
hijacking), so the Origin is checked before the cookie is even read.
"""

import logging

from django.db import DatabaseError

from accounts import tokens
from chat.dbthread import db_read
from chat.frames import (
    CLOSE_INVALID_TOKEN,
    CLOSE_NOT_AUTHENTICATED,
    CLOSE_NOT_FOUND,
    CLOSE_REASONS,
    CLOSE_SERVICE_UNAVAILABLE,
    CLOSE_TOKEN_NOT_PROVIDED,
    closing_frame,
)
from chat.metrics import HANDSHAKE_REJECTIONS
from chat.sessions import revocation_mark

logger = logging.getLogger(__name__)


def client_address(scope) -> str:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "unknown"


def cookie_header(scope) -> str | None:
    """The Cookie header(s) as one string, or None when the client sent none."""
    values = [value for name, value in scope.get("headers", ()) if name == b"cookie"]
    if not values:
        return None
    # Latin-1 maps every byte, so a hostile non-ASCII header decodes instead
    # of raising; such bytes never form a valid token anyway.
    return "; ".join(value.decode("latin-1") for value in values)


async def reject(code: int, receive, send) -> None:
    """Accept, tell the client why in one ``closing`` frame, then close with ``code``.

    Accepting first is deliberate: a browser cannot read the status of a
    refused handshake, and daphne drops close reasons.
    """
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": closing_frame(code)})
    await send({"type": "websocket.close", "code": code, "reason": CLOSE_REASONS[code]})


class TokenAuthMiddleware:
    """Lets through only sockets with a valid ``token`` cookie, with the user in scope.

    Rejections follow PROTOCOL.md 3.1: no Cookie header 4001, no ``token``
    cookie 4002, a token that fails verification 4003.
    """

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not await self._authenticate(
            scope, receive, send
        ):
            return None
        return await self.inner(scope, receive, send)

    async def _authenticate(self, scope, receive, send) -> bool:
        """Put the user and the token into ``scope``, or reject the socket.

        Its own coroutine, so the cookie header and the token's text die with
        its frame instead of staying referenced for the socket's whole life.
        """
        header = cookie_header(scope)
        if header is None:
            await self._reject(CLOSE_NOT_AUTHENTICATED, scope, receive, send)
            return False
        try:
            raw_token = tokens.token_from_cookie_header(header)
            if raw_token is None:
                await self._reject(CLOSE_TOKEN_NOT_PROVIDED, scope, receive, send)
                return False
            # Taken before the check: see ChatConsumer.token_still_valid.
            mark = revocation_mark()
            verified = await db_read(tokens.verify, raw_token)
        except DatabaseError as err:
            await self._reject(
                CLOSE_SERVICE_UNAVAILABLE, scope, receive, send, type(err).__name__
            )
            return False
        except tokens.InvalidToken as err:
            await self._reject(CLOSE_INVALID_TOKEN, scope, receive, send, str(err))
            return False
        # Into the scope itself, not a copy: a copy would be held for the
        # socket's whole life beside the server's own.
        scope["user"] = verified.user
        scope["token"] = verified
        scope["revocation_mark"] = mark
        return True

    async def _reject(self, code, scope, receive, send, detail=""):
        HANDSHAKE_REJECTIONS.labels(CLOSE_REASONS[code]).inc()
        logger.warning(
            "websocket rejected: %s%s (client %s)",
            CLOSE_REASONS[code],
            f" ({detail})" if detail else "",
            client_address(scope),
        )
        await reject(code, receive, send)


class NotFoundConsumer:
    """Every WebSocket path but the chat's: the ``closing`` frame, then 4404."""

    @classmethod
    def as_asgi(cls):
        return cls()

    async def __call__(self, scope, receive, send):
        HANDSHAKE_REJECTIONS.labels(CLOSE_REASONS[CLOSE_NOT_FOUND]).inc()
        logger.info("websocket to an unknown path (client %s)", client_address(scope))
        await reject(CLOSE_NOT_FOUND, receive, send)
