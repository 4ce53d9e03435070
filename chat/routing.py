from django.urls import path, re_path

from chat.consumers import ChatConsumer
from chat.middleware import NotFoundConsumer

websocket_urlpatterns = [
    path("ws/chat/", ChatConsumer.as_asgi()),
    # Any other path: a clean 4404 close (PROTOCOL.md 3.1), not the router's
    # "No route found" server error.
    re_path(r"", NotFoundConsumer.as_asgi()),
]
