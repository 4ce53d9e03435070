"""Liveness and readiness for load balancers and orchestrators."""

import asyncio
import logging

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.http import JsonResponse

logger = logging.getLogger(__name__)

READINESS_TIMEOUT_SECONDS = 2.0


async def healthz(request):
    """The process is alive and its event loop answers."""
    return JsonResponse({"status": "ok"})


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
