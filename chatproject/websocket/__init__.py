"""The WebSocket server side that ASGI leaves to the server: frames built once
for every socket they go to (``prepared``), and the uvicorn protocol that
writes them as they are (``uvicorn_protocol``)."""
