"""Fake members of the hub: one that records its events, one whose socket is gone."""


class Socket:
    """A member that records the events handed to it."""

    def __init__(self):
        self.events = []

    async def hub_event(self, event):
        self.events.append(event)


class Broken:
    """A member whose delivery always fails, as a dead socket's would."""

    async def hub_event(self, event):
        raise ConnectionResetError("gone")
