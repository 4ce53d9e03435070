"""Settings for the test run: the real settings, with test secrets and a file SQLite DB.

The test database is a file (not SQLite's in-memory one) so that daphne
processes started by the live tests can open the same database.
"""

import os

os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-" + "x" * 20)
os.environ.setdefault("JWT_SECRET", "test-jwt-secret-not-for-production-" + "y" * 20)
os.environ.setdefault("JWT_COOKIE_SECURE", "0")
# Tests sign up many people from 127.0.0.1; the throttle has tests of its own.
os.environ.setdefault("REGISTRATIONS_PER_HOUR", "100000")

from chatproject.settings import *  # noqa: F403
from chatproject.settings import BASE_DIR, DATABASES

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    (BASE_DIR / "var").mkdir(exist_ok=True)
    DATABASES["default"]["TEST"] = {
        "NAME": str(BASE_DIR / "var" / f"test-{os.getpid()}.sqlite3")
    }

# Faster hashing: the tests create many users; production keeps the default.
# bcrypt stays, for the accounts imported from the original app.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "accounts.hashers.OriginalBCryptPasswordHasher",
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
