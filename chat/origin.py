"""WebSocket Origin check: the site's own origin, compared as Django's CSRF check does.

Browsers send cookies with a cross-site WebSocket handshake, and SameSite does
not help when the other page is on the same site (another port or scheme of
the same host). So the Origin must equal this site's origin, scheme, host and
port alike, or be one of ``CSRF_TRUSTED_ORIGINS``; this runs before the
cookie is read. Channels' ``AllowedHostsOriginValidator`` compares host names
only.
"""

import logging
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest
from django.http.request import is_same_domain

logger = logging.getLogger(__name__)


class _HandshakeRequest(HttpRequest):
    """Just enough of a request for Django's ``get_host()`` and ``is_secure()``."""

    def __init__(self, scope):
        super().__init__()
        self._scope_scheme = scope.get("scheme", "ws")
        for name, value in scope.get("headers", ()):
            key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
            self.META[key] = value.decode("latin-1")
        server = scope.get("server")
        if server:
            self.META["SERVER_NAME"], self.META["SERVER_PORT"] = server[0], server[1]

    def _get_scheme(self):
        return "https" if self._scope_scheme in ("wss", "https") else "http"


def origin_allowed(scope) -> bool:
    """Whether the handshake's Origin is this site's own or a trusted one."""
    request = _HandshakeRequest(scope)
    origin = request.META.get("HTTP_ORIGIN")
    if not origin:
        return False
    try:
        host = request.get_host()
    except DisallowedHost:
        # Refused as an HTTP request to that Host would be, whatever the Origin.
        return False
    scheme = "https" if request.is_secure() else "http"
    if origin == f"{scheme}://{host}":
        return True
    trusted = settings.CSRF_TRUSTED_ORIGINS
    if origin in trusted:
        return True
    try:
        parsed = urlsplit(origin)
    except ValueError:
        return False
    return any(
        is_same_domain(parsed.netloc, urlsplit(pattern).netloc.lstrip("*"))
        for pattern in trusted
        if "*" in pattern and urlsplit(pattern).scheme == parsed.scheme
    )


class SameOriginValidator:
    """Refuses (HTTP 403) WebSocket handshakes from any other origin."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(scope):
            client = (scope.get("client") or ("unknown",))[0]
            logger.warning("websocket refused: origin not allowed (client %s)", client)
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
