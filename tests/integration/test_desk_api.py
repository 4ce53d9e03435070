"""The desk's HTTP API (PROTOCOL.md 2 and 4): one conversation (GET, PATCH with
``if_assignee``, the claim race), the inbox's filters, the waiting queue with
its cursor, search, and the team list.

Run on SQLite and, marked ``postgres``, again on PostgreSQL.
"""

import json
import threading
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client

from accounts import tokens
from accounts.models import Role, User
from chat import store
from chat.models import Message, Thread
from chat.services import message_draft, message_store, thread_mark_read
from tests.conftest import token_for
from tests.integration.desk_helpers import CONVERSATION_KEYS, assert_search_index_sound
from tests.integration.http_helpers import assert_error, csrf_client

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

MESSAGE_KEYS = {
    "type",
    "id",
    "thread",
    "from",
    "name",
    "rol",
    "text",
    "sent_at",
    "client_id",
    "note",
}
RACE_ROUNDS = 10


def patch(client, username: str, body, **extra):
    """PATCH /api/conversations/USER with ``body`` as JSON (a str as sent)."""
    data = body if isinstance(body, str) else json.dumps(body)
    return client.patch(
        f"/api/conversations/{username}",
        data,
        content_type="application/json",
        **extra,
    )


def listed(client, **query) -> dict:
    """GET /api/conversations with ``query``; the 200 body."""
    response = client.get(f"/api/conversations?{urlencode(query)}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert isinstance(body["has_more"], bool)
    for row in body["conversations"]:
        expected = CONVERSATION_KEYS | (
            {"match"} if query.get("q", "").strip() else set()
        )
        assert set(row) == expected, row
    return body


def users_of(body: dict) -> list[str]:
    return [row["user"] for row in body["conversations"]]


@pytest.fixture
def team(client_for, admin_user, other_admin):
    """Signed-in clients of the two admins, by username."""
    return {"soporte": client_for(admin_user), "maria": client_for(other_admin)}


# --- GET /api/conversations/USER --------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_one_conversation_has_every_field(user, admin_user, other_admin, team):
    question = message_store(sender=user, text="Hola")
    reply = message_store(sender=other_admin, to="ana", text="Dime")
    again = message_store(sender=user, text="Mi pedido")
    thread_mark_read(reader=user, thread="ana", up_to=reply["id"])

    answer = team["soporte"].get("/api/conversations/ana")

    assert answer.status_code == 200
    assert {"private", "no-store"} <= {
        part.strip() for part in answer["Cache-Control"].split(",")
    }
    body = answer.json()
    assert set(body) == CONVERSATION_KEYS
    assert set(body["last_message"]) == MESSAGE_KEYS
    assert body == {
        "user": "ana",
        "name": "Ana García",
        "last_message": again,
        # Ana's own messages after soporte's read mark (none yet): both.
        "unread": 2,
        "status": "open",
        "assignee": "maria",
        "assignee_name": "María López",
        "needs_reply": True,
        "waiting_since": again["sent_at"],
        "user_seen_up_to": reply["id"],
    }
    # The same last message as the history shows.
    history = team["soporte"].get("/api/messages", {"with": "ana"}).json()
    assert history["messages"][-1] == body["last_message"]
    assert question in history["messages"]

    thread_mark_read(reader=admin_user, thread="ana", up_to=question["id"])
    assert team["soporte"].get("/api/conversations/ana").json()["unread"] == 1
    assert team["maria"].get("/api/conversations/ana").json()["unread"] == 2


def test_a_user_who_never_wrote_has_an_empty_open_conversation(make_user, team):
    make_user("nadia", name="Nadia")

    body = team["soporte"].get("/api/conversations/nadia").json()

    assert body == {
        "user": "nadia",
        "name": "Nadia",
        "last_message": None,
        "unread": 0,
        "status": "open",
        "assignee": None,
        "assignee_name": None,
        "needs_reply": False,
        "waiting_since": None,
        "user_seen_up_to": None,
    }


@pytest.mark.parametrize("method", ["get", "patch"])
@pytest.mark.parametrize("username", ["nadie", "soporte"], ids=["unknown", "admin"])
def test_only_a_user_s_conversation_exists(user, team, method, username):
    client = team["maria"]
    if method == "get":
        answer = client.get(f"/api/conversations/{username}")
    else:
        answer = patch(client, username, {"status": "resolved"})

    assert_error(answer, 404, "unknown_user")


def test_a_user_may_neither_read_nor_change_conversations(user, client_for):
    client = client_for(user)

    for answer in (
        client.get("/api/conversations/ana"),
        patch(client, "ana", {"status": "resolved"}),
        client.get("/api/conversations"),
        client.get("/api/admins"),
    ):
        assert_error(answer, 403, "admin_only")
    assert not Thread.objects.filter(status=Thread.RESOLVED).exists()


def test_no_token_is_401_and_a_bad_token_403(user):
    anonymous = Client()
    forged = Client()
    forged.cookies[tokens.COOKIE_NAME] = "not.a.token"

    for client, status, code in (
        (anonymous, 401, "not_authenticated"),
        (forged, 403, "invalid_token"),
    ):
        assert_error(client.get("/api/conversations/ana"), status, code)
        assert_error(patch(client, "ana", {"status": "resolved"}), status, code)
        assert_error(client.get("/api/conversations"), status, code)
        assert_error(client.get("/api/admins"), status, code)


# --- PATCH /api/conversations/USER ------------------------------------------


def test_patch_is_csrf_protected(user, admin_user):
    message_store(sender=user, text="Hola")
    client = csrf_client()
    client.cookies[tokens.COOKIE_NAME] = token_for(admin_user)

    refused = patch(client, "ana", {"status": "resolved"})
    wrong = patch(client, "ana", {"status": "resolved"}, HTTP_X_CSRFTOKEN="x" * 32)
    assert_error(refused, 403, "csrf_failed")
    assert_error(wrong, 403, "csrf_failed")
    assert Thread.objects.get(user=user).status == Thread.OPEN

    done = patch(
        client,
        "ana",
        {"status": "resolved"},
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
    )
    assert done.status_code == 200
    assert Thread.objects.get(user=user).status == Thread.RESOLVED


def test_patch_resolves_reopens_assigns_and_unassigns(user, other_admin, team):
    message_store(sender=user, text="Hola")
    client = team["soporte"]

    steps = [
        ({"status": "resolved"}, ("resolved", None, None)),
        ({"assignee": "maria"}, ("resolved", "maria", "María López")),
        ({"status": "open", "assignee": "soporte"}, ("open", "soporte", "Soporte")),
        ({"assignee": None}, ("open", None, None)),
    ]
    for body, (status, assignee, assignee_name) in steps:
        answer = patch(client, "ana", body)
        assert answer.status_code == 200, answer.content
        row = answer.json()
        assert set(row) == CONVERSATION_KEYS
        assert (row["status"], row["assignee"], row["assignee_name"]) == (
            status,
            assignee,
            assignee_name,
        )
        assert client.get("/api/conversations/ana").json() == row


@pytest.mark.parametrize(
    "body",
    [
        {"status": "closed"},
        {"status": None},
        {"status": "OPEN"},
        {},
        {"if_assignee": None},
        {"status": "open", "colour": "red"},
        {"assignee": 5},
        {"assignee": ["soporte"]},
        {"assignee": "soporte", "if_assignee": 0},
    ],
    ids=[
        "other-status",
        "null-status",
        "upper-status",
        "no-field",
        "only-if-assignee",
        "unknown-field",
        "assignee-number",
        "assignee-list",
        "if-assignee-number",
    ],
)
def test_patch_refuses_bad_fields(user, team, body):
    message_store(sender=user, text="Hola")

    assert_error(patch(team["soporte"], "ana", body), 400, "invalid_parameter")
    thread = Thread.objects.get(user=user)
    assert (thread.status, thread.assignee_id) == (Thread.OPEN, None)


@pytest.mark.parametrize(
    "raw",
    ["{not json", "[1, 2]", '"resolved"', "\xff"],
    ids=["broken", "list", "str", "bytes"],
)
def test_patch_refuses_a_body_that_is_not_a_json_object(user, team, raw):
    assert_error(patch(team["soporte"], "ana", raw), 400, "bad_json")


@pytest.mark.parametrize(
    "assignee",
    ["ana", "retirada", "nadie", ""],
    ids=["a-user", "inactive", "unknown", "empty"],
)
def test_only_an_active_admin_can_be_the_assignee(user, make_user, team, assignee):
    make_user("retirada", role=Role.ADMIN, is_active=False)
    message_store(sender=user, text="Hola")

    assert_error(
        patch(team["soporte"], "ana", {"assignee": assignee}), 400, "invalid_assignee"
    )
    assert Thread.objects.get(user=user).assignee_id is None


def test_if_assignee_applies_the_change_only_to_the_owner_it_names(
    user, admin_user, team
):
    message_store(sender=user, text="Hola")
    message_store(sender=admin_user, to="ana", text="Dime")

    kept = patch(team["maria"], "ana", {"status": "resolved", "if_assignee": "soporte"})
    assert kept.status_code == 200
    assert (kept.json()["status"], kept.json()["assignee"]) == ("resolved", "soporte")

    lost = patch(team["maria"], "ana", {"assignee": "maria", "if_assignee": None})
    body = assert_error(lost, 409, "conflict")
    assert set(body) == {"error", "detail", "conversation"}
    assert set(body["conversation"]) == CONVERSATION_KEYS
    assert body["conversation"]["assignee"] == "soporte"
    assert body["conversation"]["assignee_name"] == "Soporte"
    assert body["conversation"]["status"] == "resolved"

    stale = patch(team["maria"], "ana", {"status": "open", "if_assignee": "maria"})
    assert_error(stale, 409, "conflict")
    thread = Thread.objects.get(user=user)
    assert (thread.status, thread.assignee_id) == (Thread.RESOLVED, admin_user.pk)


def test_a_conflict_with_nobody_in_charge_says_so(user, team):
    message_store(sender=user, text="Hola")

    lost = patch(team["maria"], "ana", {"assignee": "maria", "if_assignee": "soporte"})

    body = assert_error(lost, 409, "conflict")
    assert body["conversation"]["assignee"] is None
    assert Thread.objects.get(user=user).assignee_id is None


def test_a_user_who_never_wrote_can_be_changed(make_user, team):
    make_user("nadia", name="Nadia")

    opened = patch(team["soporte"], "nadia", {"status": "open", "if_assignee": None})
    claimed = patch(
        team["soporte"], "nadia", {"assignee": "soporte", "if_assignee": None}
    )

    assert opened.status_code == 200
    row = opened.json()
    assert (row["status"], row["assignee"], row["last_message"]) == ("open", None, None)
    assert (row["needs_reply"], row["unread"]) == (False, 0)
    assert claimed.status_code == 200 and claimed.json()["assignee"] == "soporte"


def _claim_race(
    username: str, claimants: dict[str, str]
) -> list[tuple[str, int, dict]]:
    """Each admin claims ``username`` at once from a thread of their own."""
    barrier = threading.Barrier(len(claimants))
    results: list[tuple[str, int, dict]] = []
    errors: list[BaseException] = []

    def claim(admin: str, token: str) -> None:
        client = Client()
        client.cookies[tokens.COOKIE_NAME] = token
        try:
            barrier.wait(timeout=10)
            answer = patch(client, username, {"assignee": admin, "if_assignee": None})
            results.append((admin, answer.status_code, answer.json()))
        except BaseException as err:  # noqa: BLE001 (reported in the test's thread)
            errors.append(err)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=item) for item in claimants.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert len(results) == len(claimants)
    return results


@pytest.mark.django_db(transaction=True)
def test_of_two_admins_claiming_at_once_exactly_one_wins(
    make_user, admin_user, other_admin
):
    tokens_by_admin = {
        "soporte": token_for(admin_user),
        "maria": token_for(other_admin),
    }
    for round_ in range(RACE_ROUNDS):
        customer = make_user(f"cliente{round_}")
        # Half the rounds race over a thread that has no row yet.
        if round_ % 2:
            message_store(sender=customer, text="Hola")

        results = _claim_race(customer.username, tokens_by_admin)

        statuses = sorted(status for _, status, _ in results)
        assert statuses == [200, 409], (round_, results)
        [(winner, _, won)] = [r for r in results if r[1] == 200]
        [(_, _, lost)] = [r for r in results if r[1] == 409]
        assert won["assignee"] == winner
        assert lost["error"] == "conflict"
        assert lost["conversation"]["assignee"] == winner
        assert Thread.objects.get(user=customer).assignee.username == winner


# --- GET /api/conversations: filters ----------------------------------------


@pytest.fixture
def desk(make_user, user, admin_user, other_admin, team):
    """Five customers, one of each desk state, stored in this order:

    ana     open, soporte's, answered
    luis    open, nobody's, waiting
    pedro   resolved, maria's, answered
    marta   open, soporte's, waiting (wrote again after the reply)
    sara    resolved, nobody's, waiting (resolved without a reply)
    nadia   never wrote: never listed
    """
    people = {
        name: make_user(name) for name in ("luis", "pedro", "marta", "sara", "nadia")
    }
    message_store(sender=user, text="Hola")
    message_store(sender=admin_user, to="ana", text="Hola, Ana")
    message_store(sender=people["luis"], text="Una duda")
    message_store(sender=people["pedro"], text="Factura")
    message_store(sender=other_admin, to="pedro", text="Enviada")
    message_store(sender=people["marta"], text="Hola")
    message_store(sender=admin_user, to="marta", text="Dime")
    message_store(sender=people["marta"], text="Otra cosa")
    message_store(sender=people["sara"], text="Spam")
    for name in ("pedro", "sara"):
        assert patch(team["soporte"], name, {"status": "resolved"}).status_code == 200
    return people


NEWEST_FIRST = ["sara", "marta", "pedro", "luis", "ana"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, NEWEST_FIRST),
        ({"status": "all"}, NEWEST_FIRST),
        ({"status": "open"}, ["marta", "luis", "ana"]),
        ({"status": "resolved"}, ["sara", "pedro"]),
        ({"assignee": "soporte"}, ["marta", "ana"]),
        ({"assignee": "maria"}, ["pedro"]),
        ({"assignee": "none"}, ["sara", "luis"]),
        ({"needs_reply": "1"}, ["sara", "marta", "luis"]),
        ({"needs_reply": "0"}, ["pedro", "ana"]),
        ({"status": "open", "assignee": "none"}, ["luis"]),
        ({"status": "open", "needs_reply": "1"}, ["marta", "luis"]),
        ({"status": "resolved", "needs_reply": "1"}, ["sara"]),
        ({"assignee": "soporte", "needs_reply": "1", "status": "open"}, ["marta"]),
        ({"assignee": "soporte", "status": "resolved"}, []),
        # Names nobody on the team: nobody's conversations.
        ({"assignee": "nadie"}, []),
        ({"assignee": "ana"}, []),
    ],
    ids=lambda value: urlencode(value) if isinstance(value, dict) else None,
)
def test_the_inbox_filters(desk, team, query, expected):
    body = listed(team["maria"], **query)

    assert users_of(body) == expected
    assert body["has_more"] is False
    assert "next_cursor" not in body


def test_filtered_rows_are_the_conversations_themselves(desk, team):
    client = team["maria"]
    [row] = listed(client, status="resolved", assignee="maria")["conversations"]

    assert row == client.get("/api/conversations/pedro").json()
    assert (row["status"], row["assignee"], row["needs_reply"]) == (
        "resolved",
        "maria",
        False,
    )


def test_filtered_pages_follow_each_other(desk, team):
    first = listed(team["soporte"], status="open", limit="2")
    assert users_of(first) == ["marta", "luis"] and first["has_more"] is True

    before = first["conversations"][-1]["last_message"]["id"]
    second = listed(team["soporte"], status="open", limit="2", before=str(before))
    assert users_of(second) == ["ana"] and second["has_more"] is False


@pytest.mark.parametrize(
    "query",
    [
        {"status": "closed"},
        {"status": "OPEN"},
        {"needs_reply": "2"},
        {"needs_reply": "yes"},
        {"order": "oldest"},
        {"limit": "0"},
        {"limit": "201"},
        {"limit": "²"},
        {"before": "-1"},
        {"before": "١"},
    ],
    ids=lambda value: urlencode(value),
)
def test_bad_filter_values_are_400(desk, team, query):
    answer = team["soporte"].get(f"/api/conversations?{urlencode(query)}")

    assert_error(answer, 400, "invalid_parameter")


# --- order=waiting ----------------------------------------------------------


@pytest.fixture
def queue(make_user, admin_user):
    """Seven waiting customers in waiting order, and two not waiting.

    w2 and w3 start waiting in one batch (the same instant: the tie is broken
    by user id, across the first page's end); w0 writes again last, which
    moves it to the top of the recent order but keeps its place in the queue.
    """
    customers = [make_user(f"w{i}") for i in range(7)]
    answered = make_user("respondido")
    message_store(sender=answered, text="Hola")
    message_store(sender=customers[0], text="Primero")
    message_store(sender=customers[1], text="Segundo")
    store.messages_store(
        [
            message_draft(sender=customers[2], text="Tercero"),
            message_draft(sender=customers[3], text="Cuarto"),
        ]
    )
    for customer in customers[4:]:
        message_store(sender=customer, text="Más")
    message_store(sender=admin_user, to="respondido", text="Listo")
    message_store(sender=customers[0], text="¿Alguien?")
    make_user("silencio")
    return [customer.username for customer in customers]


def test_the_waiting_order_pages_through_every_waiting_thread_once(queue, team):
    client = team["soporte"]
    pages = []
    query = {"order": "waiting", "limit": "3"}
    while True:
        body = listed(client, **query)
        assert "next_cursor" in body
        pages.append(body)
        if not body["has_more"]:
            assert body["next_cursor"] is None
            break
        assert isinstance(body["next_cursor"], str) and body["next_cursor"]
        query["cursor"] = body["next_cursor"]
        assert len(pages) < 10, "the cursor does not move"

    assert [len(page["conversations"]) for page in pages] == [3, 3, 1]
    everyone = [user for page in pages for user in users_of(page)]
    assert everyone == queue
    rows = [row for page in pages for row in page["conversations"]]
    assert all(row["needs_reply"] for row in rows)
    waits = [row["waiting_since"] for row in rows]
    assert waits == sorted(waits)
    # The recent order is another one: w0 wrote last.
    assert users_of(listed(client, needs_reply="1"))[0] == "w0"


def test_the_waiting_order_combines_with_filters(queue, team, other_admin):
    message_store(sender=other_admin, to="w1", text="Dime")
    message_store(sender=User.objects.get(username="w1"), text="Ah")
    assert patch(team["soporte"], "w4", {"status": "resolved"}).status_code == 200

    body = listed(team["soporte"], order="waiting", status="open", assignee="none")

    assert users_of(body) == ["w0", "w2", "w3", "w5", "w6"]
    mine = listed(team["soporte"], order="waiting", assignee="maria")
    assert users_of(mine) == ["w1"]


@pytest.mark.parametrize(
    "cursor",
    [
        "nonsense",
        "~",
        "2026-01-01T00:00:00~5",
        "2026-01-01T00:00:00+00:00~x",
        "2026-01-01T00:00:00+00:00~",
        "2026-01-01T00:00:00+00:00~١",
        "2026-13-01T00:00:00+00:00~5",
    ],
)
def test_an_invalid_cursor_is_400(queue, team, cursor):
    query = urlencode({"order": "waiting", "cursor": cursor})
    answer = team["soporte"].get(f"/api/conversations?{query}")

    assert_error(answer, 400, "invalid_parameter")


@pytest.mark.parametrize(
    "cursor",
    [
        "2026-01-01T00:00:00+00:00~" + "9" * 30,
        "2026-01-01T00:00:00+00:00~9223372036854775808",
        "0001-01-01T00:00:00+01:00~1",
        "9999-12-31T23:59:59-14:00~1",
    ],
    ids=["huge-id", "2**63", "before-year-1", "after-year-9999"],
)
def test_a_cursor_out_of_range_is_no_server_error(queue, team, cursor):
    query = urlencode({"order": "waiting", "cursor": cursor})
    answer = team["soporte"].get(f"/api/conversations?{query}")

    assert answer.status_code in (200, 400), answer.content


def test_a_cursor_from_later_than_every_wait_is_an_empty_last_page(queue, team):
    last = Thread.objects.exclude(waiting_since=None).order_by("-waiting_since").first()
    cursor = f"{(last.waiting_since + timedelta(seconds=1)).isoformat()}~0"

    body = listed(team["soporte"], order="waiting", cursor=cursor)

    assert body == {"conversations": [], "has_more": False, "next_cursor": None}


# --- search (q) -------------------------------------------------------------


@pytest.fixture
def corpus(make_user, user, admin_user):
    """Threads to search, each message stored through the real store (after
    migration 0004, so found only if its index keeps in step)."""
    people = {
        "luis": make_user("luis", name="Luis Pérez"),
        "pedro": make_user("pedro", name="Pedro Gómez"),
        "lperez": make_user("lperez", name="Lucía"),
    }
    message_store(sender=people["luis"], text="Hablé con José ayer")
    message_store(sender=people["pedro"], text="jose dijo que sí, el pedido llegó roto")
    message_store(sender=people["luis"], text="Mi pedido no llega")
    message_store(sender=people["luis"], text="y la caja está rota")
    message_store(sender=user, text="Buenas tardes")
    message_store(sender=people["lperez"], text="Hola")
    return people


def found(client, q: str, **query) -> dict[str, dict | None]:
    """Each conversation found by ``q``, with its ``match``, in order."""
    body = listed(client, q=q, **query)
    return {row["user"]: row["match"] for row in body["conversations"]}


@pytest.mark.parametrize("q", ["jose", "JOSÉ", "José", "JoSe"])
def test_search_ignores_accents_and_case_both_ways(corpus, team, q):
    hits = found(team["soporte"], q)

    assert set(hits) == {"luis", "pedro"}
    assert hits["luis"]["text"] == "Hablé con José ayer"
    assert hits["pedro"]["text"].startswith("jose dijo")


def test_search_words_are_prefixes(corpus, team):
    hits = found(team["soporte"], "pedi")

    assert list(hits) == ["luis", "pedro"]
    assert hits["luis"]["text"] == "Mi pedido no llega"


def test_every_word_must_be_in_one_message(corpus, team):
    # luis has "pedido" and "rota" in two messages; pedro both in one.
    assert list(found(team["soporte"], "pedido roto")) == ["pedro"]
    assert list(found(team["soporte"], "roto pedido")) == ["pedro"]
    assert found(team["soporte"], "pedido zanahoria") == {}


def test_a_name_only_match_has_no_message(corpus, team):
    by_display_name = found(team["soporte"], "garcia")
    by_username = found(team["soporte"], "lperez")

    assert by_display_name == {"ana": None}
    assert by_username == {"lperez": None}
    # Words are whole tokens' prefixes: "perez" is Luis Pérez, not lperez.
    assert found(team["soporte"], "Pérez") == {"luis": None}


def test_search_rows_are_conversations_with_their_match(corpus, team):
    [row] = listed(team["soporte"], q="caja")["conversations"]

    expected = team["soporte"].get("/api/conversations/luis").json()
    assert {key: row[key] for key in CONVERSATION_KEYS} == expected
    assert set(row["match"]) == MESSAGE_KEYS
    assert row["match"]["text"] == "y la caja está rota"
    assert row["match"] == row["last_message"]


def test_notes_are_searched_for_the_team(corpus, user, admin_user, team):
    note = message_store(sender=admin_user, to="ana", text="Cliente VIP", note=True)

    assert found(team["maria"], "vip") == {"ana": note}
    assert note["note"] is True


def test_the_match_is_the_newest_matching_message(corpus, team, make_user):
    luis = corpus["luis"]
    message_store(sender=luis, text="Otro pedido más")
    newest = message_store(sender=luis, text="Y otro pedido")
    message_store(sender=luis, text="Gracias")

    assert found(team["soporte"], "pedido")["luis"] == newest


def test_search_combines_with_the_filters(corpus, team, admin_user):
    message_store(sender=admin_user, to="pedro", text="Lo reviso")
    assert patch(team["soporte"], "luis", {"status": "resolved"}).status_code == 200

    assert list(found(team["soporte"], "pedido", status="open")) == ["pedro"]
    assert list(found(team["soporte"], "pedido", status="resolved")) == ["luis"]
    assert list(found(team["soporte"], "pedido", assignee="soporte")) == ["pedro"]
    assert list(found(team["soporte"], "pedido", assignee="none")) == ["luis"]
    assert list(found(team["soporte"], "pedido", needs_reply="1")) == ["luis"]
    assert found(team["soporte"], "pedido", assignee="nadie") == {}


def test_a_name_search_with_a_filter_finds_the_one_that_passes_it(make_user, team):
    """Filters apply before the page is cut: the three newest Pedros are
    resolved, the open one (the oldest) must still be found with limit=1."""
    pedros = [make_user(f"pedro{i}", name=f"Pedro {i}") for i in range(4)]
    for pedro in pedros:
        message_store(sender=pedro, text="Hola")
    for pedro in pedros[1:]:
        resolved = patch(team["soporte"], pedro.username, {"status": "resolved"})
        assert resolved.status_code == 200

    body = listed(team["soporte"], q="pedro", status="open", limit="1")

    assert users_of(body) == ["pedro0"]
    assert body["has_more"] is False


def _search_pages(client, q: str, limit: int) -> list[list[str]]:
    """Every page of a search, each next one ``before`` the answer's
    ``next_before`` (docs/api.md; null on the last page)."""
    pages, query = [], {"q": q, "limit": str(limit)}
    while True:
        body = listed(client, **query)
        pages.append(users_of(body))
        if not body["has_more"]:
            assert body["next_before"] is None
            return pages
        assert isinstance(body["next_before"], int), body["next_before"]
        query["before"] = str(body["next_before"])
        assert len(pages) < 20, "the pages do not move"


def test_search_pages_list_every_matching_thread_once(make_user, team):
    people = [make_user(f"c{i}") for i in range(5)]
    # c0 matches twice: its older match lies below the others'.
    message_store(sender=people[0], text="factura de enero")
    for person in people[1:]:
        message_store(sender=person, text=f"factura de {person.username}")
    message_store(sender=people[0], text="otra factura")

    pages = _search_pages(team["soporte"], "factura", limit=2)

    everyone = [user for page in pages for user in page]
    assert everyone == ["c0", "c4", "c3", "c2", "c1"], pages


def test_search_pages_skip_no_thread_matched_by_name_and_text(make_user, team):
    pedro = make_user("pedro", name="Pedro Gómez")
    luis = make_user("luis", name="Luis")
    message_store(sender=pedro, text="soy pedro")
    message_store(sender=luis, text="pregunto por pedro")
    message_store(sender=pedro, text="hola")

    pages = _search_pages(team["soporte"], "pedro", limit=1)

    everyone = [user for page in pages for user in page]
    assert sorted(everyone) == ["luis", "pedro"], pages
    assert len(everyone) == 2, pages


@pytest.mark.parametrize("limit", [1, 2, 3, 5])
def test_search_pages_of_any_size_follow_the_documented_order(
    make_user, admin_user, team, limit
):
    """Name matches by their last message, other threads by their newest
    matching message (notes included), each once, whatever the page size."""
    uno = make_user("pedro1", name="Pedro Uno")  # the name only
    dos = make_user("pedro2", name="Pedro Dos")  # the name and a message
    luis = make_user("luis", name="Luis")  # two messages
    marta = make_user("marta", name="Marta")  # one message
    make_user("sara", name="Sara")  # a note (of the team)
    otro = make_user("otro", name="Otro")  # nothing
    ids = {}
    ids["luis_old"] = message_store(sender=luis, text="pregunto por pedro")["id"]
    message_store(sender=dos, text="soy pedro")
    message_store(sender=uno, text="hola")
    ids["marta"] = message_store(sender=marta, text="pedro llamó")["id"]
    ids["dos_last"] = message_store(sender=dos, text="adiós")["id"]
    ids["sara"] = message_store(
        sender=admin_user, to="sara", text="pedro es su hermano", note=True
    )["id"]
    ids["luis"] = message_store(sender=luis, text="pedro otra vez")["id"]
    message_store(sender=luis, text="gracias")
    message_store(sender=otro, text="nada que ver")
    ids["uno_last"] = message_store(sender=uno, text="¿hay alguien?")["id"]
    keys = {
        "pedro1": ids["uno_last"],
        "pedro2": ids["dos_last"],
        "luis": ids["luis"],
        "marta": ids["marta"],
        "sara": ids["sara"],
    }
    expected = sorted(keys, key=keys.get, reverse=True)

    pages = _search_pages(team["soporte"], "pedro", limit=limit)

    assert [user for page in pages for user in page] == expected, pages
    assert all(len(page) == limit for page in pages[:-1])


@pytest.mark.parametrize(
    "q",
    [
        '"',
        '""',
        "*",
        "AND",
        "OR",
        "NOT",
        "-",
        "NEAR(",
        "NEAR(pedido",
        '"pedido',
        "pedido*",
        "pedido AND",
        "OR pedido",
        "-pedido",
        "pedido:",
        "^pedido",
        "(pedido",
        "pedido)",
        "'",
        "\\",
        "%_",
        "!&|<->",
        "pedido & | !",
        "a",
        "x" * 500,
        "palabra " * 50,
        "١٢٣",
        "😀",
    ],
)
def test_search_operators_and_punctuation_are_never_a_server_error(corpus, team, q):
    answer = team["soporte"].get(f"/api/conversations?{urlencode({'q': q})}")

    assert answer.status_code == 200, answer.content
    assert isinstance(answer.json()["conversations"], list)


def test_operator_words_are_searched_as_words(make_user, team):
    rock = make_user("rock")
    message_store(sender=rock, text="rock AND roll, NEAR the end OR not")

    for q in ("AND", "and", "NEAR", "OR", "roll AND", '"roll"'):
        assert list(found(team["soporte"], q)) == ["rock"], q
    assert list(found(team["soporte"], "-pedido")) == []


@pytest.mark.parametrize("q", ["", " ", "  \t "])
def test_an_empty_search_lists_the_inbox(corpus, team, q):
    plain = listed(team["soporte"])
    body = team["soporte"].get(f"/api/conversations?{urlencode({'q': q})}").json()

    assert body == plain
    assert users_of(body) == ["lperez", "ana", "luis", "pedro"]


def test_a_message_stored_now_is_found_now(corpus, team, user):
    assert found(team["soporte"], "ornitorrinco") == {}

    message = message_store(sender=user, text="Un ornitorrinco en la caja")

    assert found(team["soporte"], "ornitorrinco") == {"ana": message}


def test_a_renamed_customer_is_found_by_the_new_name_only(corpus, team):
    lucia = corpus["lperez"]
    lucia.display_name = "Valentina"
    lucia.save()

    assert found(team["soporte"], "valentina") == {"lperez": None}
    assert found(team["soporte"], "lucia") == {}


@pytest.mark.django_db(transaction=True)
def test_deleting_a_customer_s_data_removes_it_from_search(corpus, make_user, team):
    boss = make_user("jefa", role=Role.ADMIN, is_staff=True, is_superuser=True)
    boss_client = Client()
    boss_client.cookies[tokens.COOKIE_NAME] = token_for(boss)
    assert set(found(team["soporte"], "pedido")) == {"luis", "pedro"}
    thread = Thread.objects.get(user=corpus["luis"])

    answer = boss_client.post(
        "/admin/chat/thread/",
        {"action": "delete_personal_data", "_selected_action": [thread.pk]},
    )

    assert answer.status_code == 302
    assert set(found(team["soporte"], "pedido")) == {"pedro"}
    assert found(team["soporte"], "luis") == {}
    assert found(team["soporte"], "caja") == {}
    assert_search_index_sound()


def test_a_deleted_message_is_no_longer_found(corpus, team):
    Message.objects.filter(text="Hablé con José ayer").delete()

    assert found(team["soporte"], "hable") == {}
    assert list(found(team["soporte"], "jose")) == ["pedro"]
    assert list(found(team["soporte"], "caja")) == ["luis"]
    assert_search_index_sound()


def test_search_pages_say_when_more_follow(corpus, team):
    body = listed(team["soporte"], q="pedido", limit="1")

    assert users_of(body) == ["luis"] and body["has_more"] is True


# --- GET /api/admins --------------------------------------------------------


def test_the_team_list_names_every_active_admin_by_name(
    user, admin_user, other_admin, make_user, team
):
    make_user("retirada", role=Role.ADMIN, is_active=False, name="Retirada")
    make_user("beto", role=Role.ADMIN, name="Beto")

    answer = team["soporte"].get("/api/admins")

    assert answer.status_code == 200
    assert answer.json() == {
        "admins": [
            {"user": "beto", "name": "Beto"},
            {"user": "maria", "name": "María López"},
            {"user": "soporte", "name": "Soporte"},
        ]
    }
