"""At most DATABASE_CONCURRENCY requests of one process use the database at once.

Under ASGI every HTTP request runs in a thread of its own and opens its own
database connection; without a bound, a burst of requests opens as many
connections as there are requests and PostgreSQL refuses the excess.
"""

import asyncio
import threading

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import JsonResponse
from django.utils.translation import gettext as _

# A request that waits longer than this is answered 503, not kept hanging.
WAIT_SECONDS = 5


class DatabaseConcurrencyMiddleware:
    """Holds one of DATABASE_CONCURRENCY slots for the whole request.

    Runs in either mode: a sync-only middleware made Django run the whole
    chain above it in a worker thread, one per request. In async mode a free
    slot is taken on the event loop; only waiting for one (the server is
    saturated) blocks, so that wait happens in a worker thread.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.slots = threading.BoundedSemaphore(settings.DATABASE_CONCURRENCY)
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.async_mode:
            return self.__acall__(request)
        if not self.slots.acquire(timeout=WAIT_SECONDS):
            return _busy()
        try:
            return self.get_response(request)
        finally:
            self.slots.release()

    async def __acall__(self, request):
        if not self.slots.acquire(blocking=False) and not await self._wait_for_slot():
            return _busy()
        try:
            return await self.get_response(request)
        finally:
            self.slots.release()

    async def _wait_for_slot(self) -> bool:
        waiting = asyncio.get_running_loop().run_in_executor(
            None, self.slots.acquire, True, WAIT_SECONDS
        )
        try:
            return await asyncio.shield(waiting)
        except asyncio.CancelledError:
            # The client went away; the wait goes on in its thread, and a
            # slot it gets after all is given back.
            waiting.add_done_callback(
                lambda done: done.result() and self.slots.release()
            )
            raise


def _busy():
    response = JsonResponse(
        {
            "error": "unavailable",
            "detail": _("The server is busy. Try again in a moment."),
        },
        status=503,
    )
    response["Retry-After"] = "1"
    return response
