"""Usernames are unique ignoring case and width, and the database enforces it."""

import importlib
import threading
import unicodedata

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.db.migrations.executor import MigrationExecutor

from accounts.forms import RegistrationForm
from accounts.models import User
from tests.integration.http_helpers import assert_error, csrf_client, post_json

GOOD_PASSWORD = "a long and unusual passphrase 42"
CHANGELIST = "/admin/accounts/user/"
BARRIER_TIMEOUT_SECONDS = 10


def register(client, username: str):
    return post_json(
        client,
        "/api/auth/register",
        {"username": username, "password": GOOD_PASSWORD},
    )


# The database -----------------------------------------------------------------


@pytest.mark.parametrize("second", ["RACERX", "Racerx", "ＲＡＣＥＲＸ"])
def test_the_database_refuses_a_second_username_differing_only_in_case_or_width(
    db, second
):
    User.objects.create_user("racerx")

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(second)


def test_the_username_key_is_the_nfkc_casefolded_username(db):
    user = User.objects.create_user("Straße")

    assert user.username_key == "strasse"
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("STRASSE")


def test_a_rename_moves_the_username_key_with_it(db):
    user = User.objects.create_user("racerx")
    user.username = "Speed"
    user.save(update_fields=["username"])

    user.refresh_from_db()
    assert user.username_key == "speed"
    User.objects.create_user("racerx")


def test_bulk_created_users_get_their_username_keys(db):
    User.objects.bulk_create([User(username="Uno"), User(username="Dos")])

    assert set(User.objects.values_list("username_key", flat=True)) == {"uno", "dos"}


# The migration ------------------------------------------------------------------

BEFORE_KEY = [("accounts", "0002_session_end")]
WITH_KEY = [("accounts", "0003_username_key")]
UsernameCollision = importlib.import_module(
    "accounts.migrations.0003_username_key"
).UsernameCollision


@pytest.fixture
def migrate_to():
    """Migrate the test database to the given nodes; back to the latest after."""

    def migrate(targets):
        executor = MigrationExecutor(connection)
        executor.migrate(targets)
        executor.loader.build_graph()
        return executor.loader.project_state(targets).apps

    yield migrate
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_the_key_of_existing_accounts(migrate_to):
    old_user = migrate_to(BEFORE_KEY).get_model("accounts", "User")
    old_user.objects.create(username="Ｍarta")
    old_user.objects.create(username="Luis")

    new_user = migrate_to(WITH_KEY).get_model("accounts", "User")

    keys = dict(new_user.objects.values_list("username", "username_key"))
    assert keys == {"Ｍarta": "marta", "Luis": "luis"}


@pytest.mark.django_db(transaction=True)
def test_the_migration_names_existing_accounts_that_collide(migrate_to):
    old_user = migrate_to(BEFORE_KEY).get_model("accounts", "User")
    for name in ("racerx", "RACERX", "luis"):
        old_user.objects.create(username=name)

    with pytest.raises(UsernameCollision, match="RACERX, racerx"):
        migrate_to(WITH_KEY)

    old_user.objects.filter(username="RACERX").delete()


# Registration -------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_of_one_name_in_three_cases_create_one_account(
    monkeypatch,
):
    """All three pass the form's check before any inserts: the database decides."""
    barrier = threading.Barrier(3, timeout=BARRIER_TIMEOUT_SECONDS)
    original_clean = RegistrationForm.clean

    def clean_then_wait(form):
        cleaned = original_clean(form)
        barrier.wait()
        return cleaned

    monkeypatch.setattr(RegistrationForm, "clean", clean_then_wait)
    responses = {}

    def sign_up(username: str) -> None:
        try:
            responses[username] = register(csrf_client(), username)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=sign_up, args=(name,))
        for name in ("racerx", "RACERX", "Racerx")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    statuses = sorted(response.status_code for response in responses.values())
    assert statuses == [201, 400, 400], [r.content for r in responses.values()]
    for response in responses.values():
        if response.status_code == 400:
            body = assert_error(response, 400, "invalid")
            assert list(body["fields"]) == ["username"]
            assert body["fields"]["username"] == ["That username is taken."]
    assert User.objects.filter(username_key="racerx").count() == 1


@pytest.mark.parametrize("wide", ["Ａna", "ＡＮＡ", "ａｎａ"])
def test_a_fullwidth_spelling_of_a_taken_username_is_refused(user, wide):
    response = register(csrf_client(), wide)

    body = assert_error(response, 400, "invalid")
    assert body["fields"]["username"] == ["That username is taken."]
    assert User.objects.count() == 1


def test_a_fullwidth_username_is_stored_normalised(db):
    response = register(csrf_client(), "Ｍａｒｔａ")

    assert response.status_code == 201, response.content
    assert response.json()["user"] == "Marta"
    assert User.objects.get().username == "Marta"


def test_a_username_differing_from_a_taken_one_by_casefolding_is_refused(make_user):
    make_user("strasse")

    response = register(csrf_client(), "Straße")

    assert_error(response, 400, "invalid")
    assert User.objects.count() == 1


def test_the_length_limit_applies_to_the_normalised_username(db):
    """ "ǆ" is one character that NFKC turns into two ("dž")."""
    name = "ǆ" * 76
    assert len(unicodedata.normalize("NFKC", name)) == 152

    body = assert_error(register(csrf_client(), name), 400, "invalid")

    assert list(body["fields"]) == ["username"]
    assert not User.objects.exists()


# The Django admin ---------------------------------------------------------------


@pytest.fixture
def staff_client(make_user, client_for):
    boss = make_user("jefa", role="admin", is_staff=True, is_superuser=True)
    return client_for(boss)


def add_user(client, username: str):
    return client.post(
        f"{CHANGELIST}add/",
        {
            "username": username,
            "display_name": "",
            "role": "user",
            "usable_password": "false",
        },
    )


def rename_user(client, user: User, username: str):
    page = client.get(f"{CHANGELIST}{user.pk}/change/")
    form = page.context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if value is not None and not isinstance(value, list | tuple)
    }
    data.update(
        {
            "username": username,
            "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        }
    )
    return client.post(f"{CHANGELIST}{user.pk}/change/", data)


def admin_form_errors(response) -> dict:
    assert response.status_code == 200, response.status_code
    return response.context["adminform"].form.errors


@pytest.mark.parametrize(
    ("existing", "added"),
    [("racerx", "RACERX"), ("élan", "ÉLAN"), ("strasse", "Straße"), ("ana", "Ａna")],
)
def test_adding_a_colliding_username_in_the_admin_is_a_form_error(
    staff_client, make_user, existing, added
):
    make_user(existing)

    errors = admin_form_errors(add_user(staff_client, added))

    assert "username" in errors
    assert User.objects.filter(username_key=existing).count() == 1


def test_adding_a_new_username_in_the_admin_still_works(staff_client):
    response = add_user(staff_client, "Nuevo")

    assert response.status_code == 302
    assert User.objects.get(username="Nuevo").username_key == "nuevo"


@pytest.mark.parametrize("new_name", ["ANA", "Ａna", "ana"])
def test_renaming_a_user_onto_a_taken_username_in_the_admin_is_a_form_error(
    staff_client, user, make_user, new_name
):
    luis = make_user("luis")

    errors = admin_form_errors(rename_user(staff_client, luis, new_name))

    assert "username" in errors
    luis.refresh_from_db()
    assert luis.username == "luis"


def test_renaming_a_user_to_another_case_of_its_own_name_is_allowed(staff_client, user):
    response = rename_user(staff_client, user, "ANA")

    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.username, user.username_key) == ("ANA", "ana")
