"""Content-Security-Policy for every HTML page (Django 5.2 has no built-in CSP).

The policy allows scripts, styles, fonts and connections from this site only:
no inline script can run, so markup that slipped past the page's escaping
still could not execute. Pages hand data to their scripts in ``data-*``
attributes or ``json_script`` blocks, which are data and never executed.

The Django admin works under the same policy: its templates have no inline
scripts nor style attributes, and its scripts change styles through the
CSSOM, which ``style-src 'self'`` does not restrict.
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from chatproject.loopmiddleware import OnTheLoop

HEADER = "Content-Security-Policy"

POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        # 'self' also matches ws:// and wss:// to this host (CSP Level 3).
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

# Django's technical 404 and 500 pages (DEBUG only) are built with inline
# styles and scripts; they are for the developer and never served in
# production, so they keep working rather than render broken.
DEBUG_PAGE_STATUSES = frozenset({404, 500})


class ContentSecurityPolicyMiddleware(OnTheLoop):
    """Adds :data:`POLICY` to HTML responses that do not set a policy themselves.

    Runs natively under ASGI as well as WSGI, on the event loop (it only
    sets a header).
    """

    def process_response(
        self, request: HttpRequest, response: HttpResponse
    ) -> HttpResponse:
        if self._applies(response):
            response[HEADER] = POLICY
        return response

    @staticmethod
    def _applies(response: HttpResponse) -> bool:
        if HEADER in response:
            return False
        if not response.get("Content-Type", "").startswith("text/html"):
            return False
        return not (settings.DEBUG and response.status_code in DEBUG_PAGE_STATUSES)
