"""The WebSocket Origin is compared in full: scheme, host and port (PROTOCOL.md 3.1).

Only the site's own origin, or one of ``CSRF_TRUSTED_ORIGINS``, may open a
socket; anything else is refused before accept (HTTP 403 on a real server).
"""

import pytest

from chat.origin import origin_allowed
from tests.integration.ws_helpers import communicator_for

pytestmark = pytest.mark.django_db(transaction=True)


async def handshake(
    user, *, origin: str | None, host: str = "localhost", scheme: str = "ws"
) -> bool:
    """Open a signed-in socket; True when it got `hello`, False when refused
    before accept."""
    communicator = communicator_for(user, headers={"host": host, "origin": origin})
    # Set before the application first runs (at the first await below).
    communicator.scope["scheme"] = scheme
    try:
        connected, _ = await communicator.connect(timeout=10)
        if not connected:
            return False
        hello = await communicator.receive_json_from(timeout=10)
        assert hello["type"] == "hello", hello
        return True
    finally:
        await communicator.disconnect()


@pytest.mark.parametrize(
    ("origin", "host", "scheme"),
    [
        ("http://localhost", "localhost", "ws"),
        ("http://localhost:8000", "localhost:8000", "ws"),
        ("http://127.0.0.1:8001", "127.0.0.1:8001", "ws"),
        ("https://localhost", "localhost", "wss"),
    ],
    ids=["plain", "with_port", "ip_with_port", "secure"],
)
async def test_the_sites_own_origin_is_accepted(user, origin, host, scheme):
    assert await handshake(user, origin=origin, host=host, scheme=scheme)


@pytest.mark.parametrize(
    ("origin", "scheme"),
    [
        ("https://localhost:8000", "ws"),
        ("http://localhost:8000", "wss"),
    ],
    ids=["https_page_to_ws", "http_page_to_wss"],
)
async def test_an_origin_of_another_scheme_is_refused(user, origin, scheme):
    assert not await handshake(
        user, origin=origin, host="localhost:8000", scheme=scheme
    )


@pytest.mark.parametrize(
    "origin",
    ["http://localhost:8001", "http://localhost", "http://localhost:80"],
    ids=["other_port", "no_port", "explicit_port_80"],
)
async def test_an_origin_on_another_port_is_refused(user, origin):
    assert not await handshake(user, origin=origin, host="localhost:8000")


@pytest.mark.parametrize(
    "origin",
    [
        "http://127.0.0.1",
        "http://evil.example",
        "http://localhost.evil.example",
        "null",
    ],
    ids=["another_allowed_host", "foreign_host", "lookalike_host", "null_origin"],
)
async def test_an_origin_on_another_host_is_refused(user, origin):
    assert not await handshake(user, origin=origin, host="localhost")


async def test_a_handshake_without_an_origin_is_refused(user):
    assert not await handshake(user, origin=None)


async def test_a_host_not_in_allowed_hosts_is_refused_even_with_its_own_origin(user):
    assert not await handshake(user, origin="http://evil.example", host="evil.example")


@pytest.mark.parametrize(
    ("origin", "accepted"),
    [
        ("https://chat.example.org", True),
        ("http://chat.example.org", False),
        ("https://chat.example.org:8443", False),
        ("https://other.example.org", False),
    ],
    ids=["exact", "other_scheme", "other_port", "other_host"],
)
async def test_an_exact_csrf_trusted_origin_is_accepted_and_nothing_near_it(
    user, settings, origin, accepted
):
    settings.CSRF_TRUSTED_ORIGINS = ["https://chat.example.org"]
    assert await handshake(user, origin=origin) is accepted


@pytest.mark.parametrize(
    ("origin", "accepted"),
    [
        ("https://support.example.com", True),
        ("https://a.b.example.com", True),
        ("http://support.example.com", False),
        ("https://support.example.com:8443", False),
        ("https://evilexample.com", False),
        ("https://example.com.evil.org", False),
    ],
    ids=[
        "subdomain",
        "deeper_subdomain",
        "other_scheme",
        "other_port",
        "suffix_without_dot",
        "domain_as_prefix",
    ],
)
async def test_a_wildcard_csrf_trusted_origin_admits_its_subdomains_only(
    user, settings, origin, accepted
):
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.example.com"]
    assert await handshake(user, origin=origin) is accepted


async def test_a_trusted_origin_with_a_host_not_allowed_is_refused(settings):
    # As an HTTP request to that Host would be (400), whatever the Origin says.
    settings.CSRF_TRUSTED_ORIGINS = ["https://chat.example.org"]
    assert not origin_allowed(
        {
            "type": "websocket",
            "scheme": "wss",
            "headers": [
                (b"origin", b"https://chat.example.org"),
                (b"host", b"evil.example"),
            ],
        }
    )
