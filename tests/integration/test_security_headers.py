"""Every page carries the security headers a browser needs."""

import pytest

pytestmark = pytest.mark.django_db


def test_pages_forbid_sniffing_framing_and_leaking_referrers(client):
    response = client.get("/login")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


def test_https_responses_carry_hsts(client, settings):
    settings.SECURE_HSTS_SECONDS = 31_536_000
    response = client.get("/login", secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000"


def test_plain_http_is_redirected_when_the_site_runs_on_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/login")
    assert response.status_code == 301
    assert response["Location"].startswith("https://")
