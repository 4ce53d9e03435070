"""Answer 503, not 500, while the database cannot be reached (a restart, a failover)."""

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.utils.deprecation import MiddlewareMixin
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5


class DatabaseUnavailableMiddleware(MiddlewareMixin):
    """Turns a lost database connection into a clean, retryable 503.

    Django reconnects by itself on the next request (CONN_HEALTH_CHECKS), so
    the service recovers without a restart. A ``MiddlewareMixin`` with no
    request or response hook: it runs in either mode at no cost (a sync-only
    middleware made Django run the whole chain above it in a thread).
    """

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.warning("database unavailable for %s: %s", request.path, exception)
        detail = _("The service is briefly unavailable. Try again in a moment.")
        if request.path.startswith("/api/"):
            response = JsonResponse(
                {"error": "unavailable", "detail": detail}, status=503
            )
        else:
            response = HttpResponse(detail, status=503, content_type="text/plain")
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        # Logged once, above, as a warning: not again by django.request as
        # an error (Django skips responses marked so).
        response._has_been_logged = True
        return response
