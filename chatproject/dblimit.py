"""At most DATABASE_CONCURRENCY requests of one process use the database at once.

Under ASGI every HTTP request runs in a thread of its own and opens its own
database connection; without a bound, a burst of requests opens as many
connections as there are requests and PostgreSQL refuses the excess.
"""

import threading

from django.conf import settings
from django.http import JsonResponse
from django.utils.translation import gettext as _

# A request that waits longer than this is answered 503, not kept hanging.
WAIT_SECONDS = 5


class DatabaseConcurrencyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.slots = threading.BoundedSemaphore(settings.DATABASE_CONCURRENCY)

    def __call__(self, request):
        if not self.slots.acquire(timeout=WAIT_SECONDS):
            response = JsonResponse(
                {
                    "error": "unavailable",
                    "detail": _("The server is busy. Try again in a moment."),
                },
                status=503,
            )
            response["Retry-After"] = "1"
            return response
        try:
            return self.get_response(request)
        finally:
            self.slots.release()
