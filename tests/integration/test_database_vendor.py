"""The PostgreSQL run (`make test-postgres`) is on PostgreSQL: had DATABASE_URL
not reached Django, it would pass on SQLite and prove nothing."""

import os

import pytest
from django.db import connection

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_the_tests_run_on_the_database_that_database_url_names():
    url = os.environ.get("DATABASE_URL", "")
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")

    assert connection.vendor == (
        "postgresql" if url.startswith("postgres") else "sqlite"
    )
