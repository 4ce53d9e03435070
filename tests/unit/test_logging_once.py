"""Each log line is printed once: in development, Django's own ``django``
console handler used to print every request of ``make run`` a second time."""

import os
import subprocess
import sys

from django.conf import settings

ACCESS_LINE = "HTTP GET /login 200 [0.01, 127.0.0.1:5000]"


def log_access_line(**env: str) -> str:
    """Start Django as ``make run`` does, log one access line as daphne's
    runserver does, and return what reached stderr."""
    code = (
        "import django, logging; django.setup(); "
        f"logging.getLogger('django.channels.server').info({ACCESS_LINE!r})"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "chatproject.settings",
            "SECRET_KEY": "s" * 50,
            "JWT_SECRET": "j" * 50,
            **env,
        },
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stderr


def test_a_request_is_logged_once_in_development():
    assert log_access_line(DEBUG="1", LOG_LEVEL="INFO").count(ACCESS_LINE) == 1


def test_a_request_is_logged_once_in_production():
    assert log_access_line(DEBUG="0", LOG_LEVEL="INFO").count(ACCESS_LINE) == 1


def test_log_level_quiets_django_s_own_loggers_too():
    assert ACCESS_LINE not in log_access_line(DEBUG="1", LOG_LEVEL="WARNING")
