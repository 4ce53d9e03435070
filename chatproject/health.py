"""Liveness and readiness for load balancers and orchestrators.

Liveness (``/healthz``) is answered by :class:`LivenessMiddleware`, first in
``MIDDLEWARE``, from the process alone: no database slot, no query, no
channel layer, no host or HTTPS check. A saturated database or a probe on
the daphne port's plain HTTP must not make a healthy process look dead and
get it restarted. Readiness (``/readyz``) is an ordinary view: it asks the
database and the channel layer.
"""

import asyncio
import logging

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.http import JsonResponse

logger = logging.getLogger(__name__)

READINESS_TIMEOUT_SECONDS = 2.0
LIVENESS_PATH = "/healthz"


def healthz(request):
    """The process is alive (and, under ASGI, its event loop answers)."""
    return JsonResponse({"status": "ok"})


class LivenessMiddleware:
    """Answers ``/healthz`` before any other middleware runs.

    Outermost, so nothing that may wait (the database slots of
    :mod:`chatproject.dblimit`) or refuse (``ALLOWED_HOSTS``, the HTTPS
    redirect) stands between the probe and its answer.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.async_mode:
            return self.__acall__(request)
        if request.path_info == LIVENESS_PATH:
            return healthz(request)
        return self.get_response(request)

    async def __acall__(self, request):
        if request.path_info == LIVENESS_PATH:
            return healthz(request)
        return await self.get_response(request)


def _database_answers() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


async def _channel_layer_answers() -> None:
    # A send to an empty group costs one round trip to Redis (or nothing on
    # the in-memory layer) and leaves nothing behind.
    await get_channel_layer().group_send("readyz", {"type": "readyz.probe"})


async def _check(name: str, probe) -> str | None:
    try:
        await asyncio.wait_for(probe(), READINESS_TIMEOUT_SECONDS)
    except Exception as err:  # noqa: BLE001 (any failure means "not ready")
        logger.warning("readiness: %s does not answer: %s", name, err)
        return f"{name}: {type(err).__name__}"
    return None


async def readyz(request):
    """200 when the database and the channel layer answer, 503 otherwise."""
    problems = [
        problem
        for problem in (
            await _check("database", sync_to_async(_database_answers)),
            await _check("channel layer", _channel_layer_answers),
        )
        if problem
    ]
    if problems:
        return JsonResponse({"status": "unavailable", "problems": problems}, status=503)
    return JsonResponse({"status": "ok"})
