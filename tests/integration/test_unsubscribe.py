"""The unsubscribe link of the notification emails, followed in a browser:
one GET turns that kind of email off, with no sign-in; Undo turns it back on;
a forged or altered link changes nothing."""

import pytest

from accounts.models import Role, User
from notifications.links import unsubscribe_token

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("kind", "field", "role"),
    [
        ("reply", "notify_replies", Role.USER),
        ("new", "notify_new_conversations", Role.ADMIN),
    ],
)
def test_following_the_link_turns_that_email_off_and_undo_back_on(
    client, make_user, kind, field, role
):
    person = make_user("ana", role=role, notify_new_conversations=True)
    path = f"/unsubscribe/{unsubscribe_token(person.pk, kind)}"

    page = client.get(path)
    assert page.status_code == 200
    assert "no longer" in page.content.decode()
    assert getattr(User.objects.get(pk=person.pk), field) is False

    undone = client.post(path, {"resubscribe": "1"})
    assert undone.status_code == 200
    assert "again" in undone.content.decode()
    assert getattr(User.objects.get(pk=person.pk), field) is True


def test_the_page_is_in_the_visitor_s_language(client, user):
    path = f"/unsubscribe/{unsubscribe_token(user.pk, 'reply')}"
    page = client.get(path, headers={"accept-language": "es"})
    assert "ya no recibirás" in page.content.decode()


@pytest.mark.parametrize(
    "token",
    [
        "forged-token",
        unsubscribe_token(10**9, "reply"),  # no such account
        unsubscribe_token(1, "everything"),  # no such kind
    ],
)
def test_a_bad_link_is_404_and_changes_nothing(client, user, token):
    tampered = client.get(f"/unsubscribe/{token}")
    assert tampered.status_code == 404
    assert User.objects.get(pk=user.pk).notify_replies is True


def test_an_altered_signature_is_refused(client, user):
    token = unsubscribe_token(user.pk, "reply")
    assert client.get(f"/unsubscribe/{token[:-2]}xx").status_code == 404
    assert User.objects.get(pk=user.pk).notify_replies is True
