"""Email settings from the environment, the Django way (README, Settings),
and the delays of the email notifications.

``EMAIL_URL`` (``smtp://user:password@host:587?tls=1``, ``smtps://...`` for
implicit TLS, ``console:``) or the separate ``EMAIL_HOST``, ``EMAIL_PORT``,
``EMAIL_HOST_USER``, ``EMAIL_HOST_PASSWORD``, ``EMAIL_USE_TLS``. In
development with neither, emails are printed to the console; with ``DEBUG``
off and neither, email notifications are off (``EMAIL_ENABLED`` False) and
the worker says so once at start-up.
"""

from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

from chatproject.env import env_bool, env_int, env_str

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
CONSOLE_BACKEND = "django.core.mail.backends.console.EmailBackend"
# An SMTP server that accepts the connection and then stalls must not hold a
# worker forever.
EMAIL_TIMEOUT_SECONDS = 20


def _from_url(url: str) -> dict:
    parts = urlsplit(url)
    if parts.scheme == "console":
        return {"EMAIL_BACKEND": CONSOLE_BACKEND}
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ImproperlyConfigured(
            "EMAIL_URL must look like smtp://user:password@host:587?tls=1, "
            "smtps://user:password@host:465 or console: (got a URL with "
            f"scheme {parts.scheme!r})."
        )
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    implicit = parts.scheme == "smtps" or query.get("ssl") in ("1", "true")
    return {
        "EMAIL_BACKEND": SMTP_BACKEND,
        "EMAIL_HOST": parts.hostname,
        "EMAIL_PORT": parts.port or (465 if implicit else 25),
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_TLS": query.get("tls") in ("1", "true"),
        "EMAIL_USE_SSL": implicit,
    }


def email_settings(debug: bool) -> dict:
    """The EMAIL_* settings, DEFAULT_FROM_EMAIL, SITE_URL and EMAIL_ENABLED."""
    url = env_str("EMAIL_URL")
    host = env_str("EMAIL_HOST")
    if url:
        found = _from_url(url)
    elif host:
        found = {
            "EMAIL_BACKEND": SMTP_BACKEND,
            "EMAIL_HOST": host,
            "EMAIL_PORT": env_int("EMAIL_PORT", 25, minimum=1),
            "EMAIL_HOST_USER": env_str("EMAIL_HOST_USER", ""),
            "EMAIL_HOST_PASSWORD": env_str("EMAIL_HOST_PASSWORD", ""),
            "EMAIL_USE_TLS": env_bool("EMAIL_USE_TLS", False),
            "EMAIL_USE_SSL": env_bool("EMAIL_USE_SSL", False),
        }
    elif debug:
        found = {"EMAIL_BACKEND": CONSOLE_BACKEND}
    else:
        found = {"EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend"}
    found["EMAIL_ENABLED"] = bool(url or host or debug)
    found["EMAIL_TIMEOUT"] = EMAIL_TIMEOUT_SECONDS
    found["DEFAULT_FROM_EMAIL"] = env_str(
        "DEFAULT_FROM_EMAIL", "Support <support@localhost>"
    )
    # Links in emails must be absolute, and a worker has no request to take
    # the host from.
    found["SITE_URL"] = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
    found.update(notification_delays())
    return found


def notification_delays() -> dict:
    """When email notifications are due (notifications.schedule, .tasks)."""
    return {
        # A team reply the customer has not seen after this long, with no
        # socket of theirs open, is emailed to them.
        "NOTIFY_AFTER_SECONDS": env_int("NOTIFY_AFTER_SECONDS", 600, minimum=1),
        # A customer who writes while nobody of the team is online: the
        # admins who opted in are emailed after this long (the messages of
        # that minute in one email; none if someone answered meanwhile).
        "NOTIFY_TEAM_AFTER_SECONDS": env_int(
            "NOTIFY_TEAM_AFTER_SECONDS", 60, minimum=1
        ),
        # A mail server that is down or says "later": tried again after this
        # long, doubling up to an hour, about a day in all.
        "NOTIFY_RETRY_SECONDS": env_int("NOTIFY_RETRY_SECONDS", 30, minimum=1),
    }
