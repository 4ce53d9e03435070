"""Fixtures of the import tests (issue 16): one private MariaDB for the whole
session, the original's passwords hashed once by the real bcryptjs, and for
each test a fresh original database, once with ``mensajes.id`` and once
without; ``run_import`` runs ``manage.py import_original`` against it;
``shop`` fills it with the shop's accounts and messages, and ``team_client``
signs in as one of its admins once imported.
"""

from collections.abc import Callable, Iterator
from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import User
from tests.original.bcryptjs import bcryptjs_hashes
from tests.original.mariadb import MariaDB, running_mariadb
from tests.original.original_db import OLD_PASSWORDS, OriginalDatabase, Schema
from tests.original.shop import fill_shop


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory) -> Iterator[MariaDB]:
    """Debian's mariadb-server on a free loopback port, for the whole session."""
    with running_mariadb(tmp_path_factory.mktemp("mariadb")) as server:
        yield server


@pytest.fixture(scope="session")
def old_hashes() -> dict[str, str]:
    """OLD_PASSWORDS' values hashed by bcryptjs 2.4.3, cost 8: password -> hash."""
    return bcryptjs_hashes(list(OLD_PASSWORDS.values()))


@pytest.fixture(
    params=[Schema(message_ids=True), Schema(message_ids=False)],
    ids=lambda schema: schema.label,
)
def original(request, mariadb, old_hashes) -> Iterator[OriginalDatabase]:
    """An empty original database (both tables dropped and created again),
    with ``mensajes.id`` and, in a second run of the test, without."""
    database = OriginalDatabase(mariadb, old_hashes)
    database.create(request.param)
    yield database
    database.close()


@pytest.fixture
def run_import(original) -> Callable[..., str]:
    """``run_import("--admins", "soporte")``: the command against ``original``
    (``--database`` and ``--no-progress`` added); its stdout. Errors raise."""

    def run(*args: str, database: bool = True, progress: bool = False) -> str:
        argv = list(args)
        if database:
            argv[:0] = ["--database", original.url]
        if not progress:
            argv.append("--no-progress")
        stdout, stderr = StringIO(), StringIO()
        call_command("import_original", *argv, stdout=stdout, stderr=stderr)
        return stdout.getvalue()

    return run


@pytest.fixture
def shop(original) -> dict:
    return fill_shop(original)


@pytest.fixture
def team_client(client_for):
    """A signed-in client of an imported admin, by username."""

    def make(username: str):
        return client_for(User.objects.get(username=username))

    return make
