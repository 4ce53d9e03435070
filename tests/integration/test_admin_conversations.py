"""Conversations and messages in the Django admin: read-only transcripts, export of
one customer's conversation (data-access requests) and deletion of their data."""

import json

import pytest

from accounts.models import User
from chat.models import Message, ReadState, Thread
from chat.services import message_store, thread_mark_read

pytestmark = pytest.mark.django_db


@pytest.fixture
def boss(make_user):
    return make_user("jefa", role="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def conversation(user, admin_user, make_user):
    message_store(sender=user, text="Mi pedido <script>alert(1)</script>")
    message_store(sender=admin_user, to="ana", text="Lo miro ahora")
    thread_mark_read(reader=admin_user, thread="ana", up_to=10**6)
    luis = make_user("luis")
    message_store(sender=luis, text="Otra pregunta")
    return Thread.objects.get(user=user)


def test_the_conversation_list_shows_each_customer_and_finds_them_by_name(
    conversation, boss, client_for
):
    page = client_for(boss).get("/admin/chat/thread/", {"q": "García"})

    assert page.status_code == 200
    html = page.content.decode()
    assert "Ana García" in html and "Lo miro ahora" in html
    assert "Luis" not in html


def test_a_transcript_is_read_only_and_escaped(conversation, boss, client_for):
    page = client_for(boss).get(f"/admin/chat/thread/{conversation.pk}/change/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)</script>" not in html
    assert 'name="_save"' not in html  # nothing to save: history is not edited


def test_messages_are_searchable_and_cannot_be_edited(conversation, boss, client_for):
    client = client_for(boss)
    found = client.get("/admin/chat/message/", {"q": "pedido"})
    message = Message.objects.get(text__startswith="Mi pedido")
    edit = client.post(f"/admin/chat/message/{message.pk}/change/", {"text": "x"})

    assert found.status_code == 200
    assert "Mi pedido" in found.content.decode()
    assert "Otra pregunta" not in found.content.decode()
    assert edit.status_code == 403
    assert Message.objects.get(pk=message.pk).text.startswith("Mi pedido")


def test_one_customer_s_conversation_is_exported_as_json(
    conversation, boss, client_for
):
    answer = client_for(boss).post(
        "/admin/chat/thread/",
        {"action": "export_json", "_selected_action": [conversation.pk]},
    )

    assert answer.status_code == 200
    assert "attachment" in answer["Content-Disposition"]
    [exported] = json.loads(answer.content)["conversations"]
    assert exported["user"] == "ana"
    assert [m["text"] for m in exported["messages"]] == [
        "Mi pedido <script>alert(1)</script>",
        "Lo miro ahora",
    ]
    assert {m["thread"] for m in exported["messages"]} == {"ana"}


def test_deleting_a_customer_s_data_removes_account_messages_and_marks(
    conversation, boss, client_for
):
    answer = client_for(boss).post(
        "/admin/chat/thread/",
        {"action": "delete_personal_data", "_selected_action": [conversation.pk]},
    )

    assert answer.status_code == 302
    assert not User.objects.filter(username="ana").exists()
    assert not Message.objects.filter(text__startswith="Mi pedido").exists()
    assert not Message.objects.filter(text="Lo miro ahora").exists()
    assert not ReadState.objects.filter(thread_id=conversation.pk).exists()
    # Another customer's conversation is untouched.
    assert Message.objects.filter(text="Otra pregunta").exists()


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ({"status": "open"}, {"Ana García", "luis"}),
        ({"status": "resolved"}, set()),
        ({"assignee": "none"}, {"luis"}),
        ({"needs_reply": "1"}, {"luis"}),
        ({"needs_reply": "0"}, {"Ana García"}),
    ],
    ids=["open", "resolved", "unassigned", "needs_reply", "answered"],
)
def test_the_conversation_list_filters_by_status_owner_and_waiting(
    conversation, boss, client_for, query, shown
):
    page = client_for(boss).get("/admin/chat/thread/", query)

    assert page.status_code == 200
    html = page.content.decode()
    assert {name for name in ("Ana García", "luis") if f">{name}<" in html} == shown


def test_the_conversation_list_filters_by_assignee(
    conversation, boss, admin_user, client_for
):
    page = client_for(boss).get("/admin/chat/thread/", {"assignee": admin_user.pk})

    html = page.content.decode()
    assert ">Ana García<" in html and ">luis<" not in html


def test_a_transcript_marks_the_team_s_notes(
    conversation, boss, admin_user, client_for
):
    message_store(sender=admin_user, to="ana", text="Cliente VIP", note=True)

    html = client_for(boss).get(f"/admin/chat/thread/{conversation.pk}/change/")

    assert "(internal note)" in html.content.decode()
    assert "Cliente VIP" in html.content.decode()
