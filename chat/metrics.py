"""Prometheus metrics of the chat, and the view that exposes them.

Each server process counts its own; scrape every process's port (see
docs/deploy.md). The view answers only allow-listed addresses that did not
come through the proxy, so the public never sees it.
"""

from django.conf import settings
from django.http import HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

OPEN_SOCKETS = Gauge("chat_open_sockets", "Chat sockets open on this process.")
HANDSHAKE_REJECTIONS = Counter(
    "chat_handshake_rejections_total", "Refused WebSocket handshakes.", ["reason"]
)
MESSAGES_POSTED = Counter(
    "chat_messages_posted_total", "Messages stored and published."
)
# Posted / batches is the mean batch size: how much the batching shares.
MESSAGE_BATCHES = Counter(
    "chat_message_batches_total", "Batches of messages stored in one transaction."
)
MESSAGES_DELIVERED = Counter(
    "chat_messages_delivered_total", "Message frames sent to sockets."
)
DELIVERY_LATENCY = Histogram(
    "chat_delivery_latency_seconds",
    "From a message being stored to its frame being sent to a socket.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
ERRORS = Counter("chat_errors_total", "Error frames sent, by code.", ["code"])


def metrics_view(request):
    """The Prometheus text format, for allow-listed direct callers only."""
    proxied = "HTTP_X_FORWARDED_FOR" in request.META
    if proxied or request.META.get("REMOTE_ADDR") not in settings.METRICS_ALLOWED_IPS:
        return HttpResponse(status=404)
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)
