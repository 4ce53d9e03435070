"""Settings of the daphne that serves tests/browser/test_imported_history.py:
the browser tests' own (tests/browser/daphne_settings.py), with the
production password hashers, so that accounts imported from the original
sign in with their bcryptjs hashes, and have them rewritten, exactly as
they will in production.
"""

import chatproject.settings as production
from tests.browser.daphne_settings import *  # noqa: F403

PASSWORD_HASHERS = production.PASSWORD_HASHERS
