"""Settings, read from the environment with safe defaults.

Every variable is documented in the README and listed in ``.env.example``.
With ``DEBUG`` off (the default) the secrets must be given: start-up stops
with a message naming the missing one.
"""

import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from chatproject.env import env_bool, env_int, env_list, env_str
from chatproject.layers import REDIS_LAYER_BACKENDS, channel_layers
from chatproject.mail import email_settings
from chatproject.passwords import AUTH_PASSWORD_VALIDATORS, PASSWORD_HASHERS  # noqa: F401 (settings)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

DEBUG = env_bool("DEBUG", default=False)


def _secret(name: str) -> str:
    """Return a required secret; in development, a per-checkout generated one.

    The development value is stored under ``var/`` (git-ignored) so that
    tokens survive a restart, and it is never a constant shared by every
    checkout of the project.
    """
    value = env_str(name)
    if value:
        return value
    if not DEBUG:
        raise ImproperlyConfigured(
            f"{name} is not set. It is required when DEBUG is off; "
            f"see the README (Settings) and .env.example."
        )
    path = VAR_DIR / f"dev-{name.lower()}"
    if not path.exists():
        VAR_DIR.mkdir(exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret("SECRET_KEY")
JWT_SECRET = _secret("JWT_SECRET")
# HS256 keys shorter than the hash's 32 bytes make tokens cheaper to forge by
# guessing the key (RFC 7518 3.2 requires at least that much).
JWT_SECRET_MIN_BYTES = 32
if not DEBUG and len(JWT_SECRET.encode()) < JWT_SECRET_MIN_BYTES:
    raise ImproperlyConfigured(
        f"JWT_SECRET must be at least {JWT_SECRET_MIN_BYTES} bytes (UTF-8); "
        "use a long random string, e.g. from "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))'."
    )
JWT_ALGORITHM = "HS256"
JWT_LIFETIME_SECONDS = env_int("JWT_LIFETIME_SECONDS", 3600, minimum=1)
JWT_COOKIE_SECURE = env_bool("JWT_COOKIE_SECURE", default=not DEBUG)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "accounts.apps.AccountsConfig",
    "chat.apps.ChatConfig",
    "accounts.apps.ChatAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "notifications.apps.NotificationsConfig",
    "legacy.apps.LegacyConfig",
]

# Background work (email notifications) is stored in the database and run by
# `manage.py email_worker` (django-tasks-db's db_worker): it survives
# restarts, and with several workers each
# task is claimed by one.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# Under ASGI the middleware runs on the event loop: most of Django's are the
# "Loop" subclasses of chatproject.loopmiddleware, which call their hooks
# directly instead of hopping to a worker thread for each (and no
# middleware is sync-only, which would put the whole chain above it in a
# thread). Security, CSRF and X-Frame-Options stay Django's own classes:
# `check --deploy` finds them only by their exact paths, and its checks of
# their settings are worth a few hops.
MIDDLEWARE = [
    # /healthz answered first, from the process alone (no database slot).
    "chatproject.health.LivenessMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Outermost after security headers, so every HTML answer gets the policy.
    "chatproject.csp.ContentSecurityPolicyMiddleware",
    "accounts.http_auth.PrivateAnswersMiddleware",
    "chatproject.loopmiddleware.LoopWhiteNoiseMiddleware",
    "chatproject.loopmiddleware.LoopSessionMiddleware",
    "chatproject.loopmiddleware.LoopLocaleMiddleware",
    "chatproject.loopmiddleware.LoopCommonMiddleware",
    # A lost database connection answers 503 (the token is checked lazily,
    # inside the view, so that path is covered too).
    "chatproject.unavailable.DatabaseUnavailableMiddleware",
    "chatproject.dblimit.DatabaseConcurrencyMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "accounts.http_auth.TokenAuthenticationMiddleware",
    "chatproject.loopmiddleware.LoopMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Axes last, as its documentation asks: it turns a locked-out login
    # into the 429 answer.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # Axes first, so a locked-out client is refused before a password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "chatproject.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "chatproject.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        # Persistent connections: opening one per query is what made the
        # tutorial-shaped chat slow (with SQLite, a new WAL file each time).
        conn_max_age=None,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers (history pages) run beside the writer; IMMEDIATE
        # takes the write lock up front instead of failing with "database
        # is locked" when two writers upgrade at once.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Under ASGI each HTTP request runs in a thread of its own, so
    # persistent connections pile up, one per request thread, and a burst
    # of requests ran PostgreSQL out of connections. HTTP requests open one
    # connection each, closed when the request ends, and at most
    # DATABASE_CONCURRENCY of them at once per process
    # (chatproject.dblimit). A restarted server is then simply reconnected
    # to. The WebSocket hot path keeps one persistent connection of its own
    # (chat.dbthread).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASE_CONCURRENCY = env_int("DATABASE_CONCURRENCY", 20, minimum=1)
# A floor between the starts of two message batches (chat.writer), on top of
# the batching that adapts to load: 0, none (a fixed spacing only added
# latency at moderate load, measured in issue 17).
CHAT_BATCH_SPACING_MS = env_int("CHAT_BATCH_SPACING_MS", 0, minimum=0)
# Per user, counted across every server process (chat.limits): a user's
# sockets beyond this are closed 4008 at the handshake.
MAX_SOCKETS_PER_USER = env_int("MAX_SOCKETS_PER_USER", 10, minimum=1)
# A socket that sends nothing, not even a ping, for this long is closed 4010
# (chat.idle); the page pings every 20 s.
SOCKET_IDLE_SECONDS = env_int("SOCKET_IDLE_SECONDS", 300, minimum=1)
# Sign-ups per client address per hour (the form tells whether a name is
# taken, so unthrottled it lists the accounts).
REGISTRATIONS_PER_HOUR = env_int("REGISTRATIONS_PER_HOUR", 20, minimum=1)

REDIS_URL = env_str("REDIS_URL")
REDIS_MAX_CONNECTIONS = env_int("REDIS_MAX_CONNECTIONS", 1000, minimum=10)
REDIS_LAYER = env_str("REDIS_LAYER", "pubsub")
if REDIS_LAYER not in REDIS_LAYER_BACKENDS:
    raise ImproperlyConfigured(
        f"REDIS_LAYER must be one of {', '.join(REDIS_LAYER_BACKENDS)} "
        f"(got {REDIS_LAYER!r})."
    )
# Sentinel instead of one Redis: REDIS_SENTINELS=host:port,host:port and the
# master's name (see docs/deploy.md).
CHANNEL_LAYERS = channel_layers(
    REDIS_URL,
    kind=REDIS_LAYER,
    max_connections=REDIS_MAX_CONNECTIONS,
    sentinels=env_list("REDIS_SENTINELS", []),
    sentinel_master=env_str("REDIS_SENTINEL_MASTER"),
    sentinel_password=env_str("REDIS_SENTINEL_PASSWORD"),
    redis_password=env_str("REDIS_PASSWORD"),
)

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "/login"

# Failed logins: 5 failures per username, and separately per client
# address, within 15 minutes lock that key for 15 minutes (see README).
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(seconds=env_int("LOGIN_COOLOFF_SECONDS", 900, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_LOCKOUT_CALLABLE = "accounts.views.login_locked_out"
# Not Axes' reset on success: it clears every failure of the client address,
# whatever username they named, so signing in to one's own account between
# guesses at another would dodge both locks. The login views clear only the
# failures of the address at the account that just signed in.
AXES_RESET_ON_SUCCESS = False
AXES_VERBOSE = False
# Behind a reverse proxy, set the number of proxies that append to
# X-Forwarded-For so the client address is not spoofable.
AXES_IPWARE_PROXY_COUNT = env_int("PROXY_COUNT", 0, minimum=0) or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]
    if AXES_IPWARE_PROXY_COUNT
    else ["REMOTE_ADDR"]
)

# EMAIL_*, DEFAULT_FROM_EMAIL, SITE_URL, EMAIL_ENABLED and the NOTIFY_* delays.
globals().update(email_settings(DEBUG))

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# /metrics answers only these addresses, and never a request that came
# through the proxy (one with X-Forwarded-For).
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", ["127.0.0.1", "::1"])

CSRF_COOKIE_SECURE = JWT_COOKIE_SECURE
SESSION_COOKIE_SECURE = JWT_COOKIE_SECURE
CSRF_FAILURE_VIEW = "accounts.views.csrf_failure"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# HTTPS: the secure-cookie setting says whether the site runs on HTTPS.
# Behind a proxy (PROXY_COUNT > 0) the proxy's X-Forwarded-Proto is trusted,
# so it must set that header itself and drop any the client sent.
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if AXES_IPWARE_PROXY_COUNT else None
)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", JWT_COOKIE_SECURE and not DEBUG)
SECURE_HSTS_SECONDS = env_int(
    "SECURE_HSTS_SECONDS", 31_536_000 if JWT_COOKIE_SECURE and not DEBUG else 0
)
SILENCED_SYSTEM_CHECKS = [
    # HSTS for subdomains and browser preload lists bind every other site on
    # the domain to HTTPS for a year: an owner's decision, not this app's.
    "security.W005",
    "security.W021",
]

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "chatproject.logformat.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            # One JSON object per line in production, for log collectors.
            "formatter": "plain" if DEBUG else "json",
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's default logging gives "django" a console handler of its
        # own (in DEBUG) at INFO; its records reach the root's handler too,
        # so `make run` printed each request twice, ignoring LOG_LEVEL. The
        # root's handler only, at LOG_LEVEL.
        "django": {"handlers": [], "level": LOG_LEVEL},
        # Axes logs the submitted credentials' username on every attempt at
        # INFO; warnings (lockouts) are enough.
        "axes": {"level": "WARNING"},
    },
}

# daphne alone serves the static files: hashed, cacheable names once
# `collectstatic` has run (as the deploy guide does), found in place before.
WHITENOISE_USE_FINDERS = True
WHITENOISE_MANIFEST_STRICT = False
