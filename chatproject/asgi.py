"""The protocol router: the one place the WebSocket stack is assembled.

Read it as a sentence: a WebSocket is checked for its Origin, then
authenticated from its token cookie, then routed to the chat consumer.
"""

import gc
import logging
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatproject.settings")
# Django must be set up before the consumer (and its models) are imported.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import get_resolver  # noqa: E402

from chat.middleware import TokenAuthMiddleware  # noqa: E402
from chat.origin import SameOriginValidator  # noqa: E402
from chat.routing import websocket_urlpatterns  # noqa: E402
from notifications.apps import say_if_off  # noqa: E402

if settings.CHANNEL_LAYERS["default"]["BACKEND"].endswith("InMemoryChannelLayer"):
    logging.getLogger(__name__).warning(
        "REDIS_URL is unset: in-memory channel layer, which serves one process "
        "only. Set REDIS_URL to run several server processes."
    )

say_if_off()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": SameOriginValidator(
            TokenAuthMiddleware(URLRouter(websocket_urlpatterns))
        ),
    }
)

# Everything loaded by now (Django, the apps, the models, the URLs) lives as
# long as the process. Frozen, it is left out of the garbage collector's
# full collections, which otherwise walked all of it (~40 ms here) every
# few hundred requests: that pause was the history API's p99.
get_resolver().url_patterns  # noqa: B018 (load the URLconf now, to freeze it too)
gc.collect()
gc.freeze()
