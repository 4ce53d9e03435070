"""Canned replies: kept in the Django admin, listed for the team (PROTOCOL.md 2, 4)."""

import pytest
from django.test import Client

from chat.models import CannedReply

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture
def replies(db):
    CannedReply.objects.create(
        shortcut="refund", text="Hi {name}, refunds take 5 days."
    )
    CannedReply.objects.create(shortcut="hello", text="Hello {name}!")


def test_the_team_gets_every_canned_reply_by_shortcut(replies, admin_user, client_for):
    answer = client_for(admin_user).get("/api/canned-replies")

    assert answer.status_code == 200
    assert answer.json() == {
        "canned_replies": [
            {"shortcut": "hello", "text": "Hello {name}!"},
            {"shortcut": "refund", "text": "Hi {name}, refunds take 5 days."},
        ]
    }
    assert "no-store" in answer["Cache-Control"]


def test_a_user_may_not_read_the_canned_replies(replies, user, client_for):
    answer = client_for(user).get("/api/canned-replies")

    assert answer.status_code == 403
    assert answer.json()["error"] == "admin_only"


def test_without_a_token_the_canned_replies_answer_401(replies):
    assert Client().get("/api/canned-replies").status_code == 401


def test_an_admin_adds_a_canned_reply_in_the_django_admin(make_user, client_for):
    boss = make_user("jefa", role="admin", is_staff=True, is_superuser=True)
    client = client_for(boss)

    answer = client.post(
        "/admin/chat/cannedreply/add/",
        {"shortcut": "thanks", "text": "Thanks, {name}!"},
    )

    assert answer.status_code == 302, answer.content[:500]
    assert CannedReply.objects.get(shortcut="thanks").text == "Thanks, {name}!"
