"""At most DATABASE_CONCURRENCY requests of one process use the database at once.

Under ASGI every HTTP request runs in a thread of its own and opens its own
database connection; without a bound, a burst of requests opens as many
connections as there are requests and PostgreSQL refuses the excess.

Why not Django's PostgreSQL pool (``OPTIONS["pool"]``, psycopg_pool)? It
was tried and dropped for its reconnection back-off: a connection attempt
that fails is retried after 1 s, then 2, 4, 8... (``AttemptWithBackoff`` in
psycopg_pool 3.3; the delays are class constants, not pool options) until
``reconnect_timeout`` (default 300 s). Measured on PostgreSQL 15 with
``check=ConnectionPool.check_connection`` and ``timeout=3``: after an 18 s
outage the first three requests still timed out, the first success came
9.8 s after the server was back. Options that do fix it: a
``reconnect_timeout`` of about 1 s caps every retry delay at that and gives
up, so the next request starts a fresh attempt at once (same test: the
first request after the restart succeeded, in 10 ms); ``check`` drops
connections the restart killed; ``timeout`` under 5 s and ``max_waiting``
bound the wait and the queue. ``min_size``/``max_size`` change nothing here.

Kept anyway, because the switch is not a clear gain here: it would save a
connection set-up (about 7 ms and 1.2 ms of client CPU on loopback) only for
the HTTP requests that touch the database, since the chat's hot path
(messages, history, handshakes) already keeps two persistent connections
(chat.dbthread); the pool exists only for PostgreSQL, so SQLite (the
default) would still need this bound, two mechanisms instead of one; and
recovery would rest on using a give-up timer as a back-off cap, which logs
a warning a second through an outage. This middleware reconnects on the
first request after a restart (tests/cluster/test_postgres_restart.py).
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
