"""Settings of the browser tests' daphne: the production settings, except

- static files are collected (hashed names and a manifest, as
  ``collectstatic`` makes them in a deployment) into the test run's own
  folder rather than ``var/static``;
- the test run's password hashers, so that people made by the test factories
  (and accounts imported from the original app, with bcrypt hashes) can
  sign in through the login form.
"""

import os

from chatproject.settings import *  # noqa: F403

STATIC_ROOT = os.environ["BROWSER_TEST_STATIC_ROOT"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "accounts.hashers.OriginalBCryptPasswordHasher",
]
