"""An admin changes a conversation: resolve, reopen, assign, claim (PROTOCOL.md 4).

``PATCH /api/conversations/USER`` comes here. The thread's row is locked for
the change, so of two admins claiming at once exactly one wins and the
other is told who did; every change is announced to the team's sockets on
every process (``chat.services.conversation_announce``).
"""

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import Role, User
from chat.frames import ChatError
from chat.inbox import conversation_of
from chat.models import Thread

UNSET = object()


@dataclass(frozen=True)
class Change:
    """The body of a PATCH, checked: UNSET where a field was not given."""

    status: Any = UNSET
    assignee: Any = UNSET
    if_assignee: Any = UNSET


class Conflict(Exception):
    """``if_assignee`` did not match: the conversation as it is now."""

    def __init__(self, conversation: dict[str, Any]):
        super().__init__("conflict")
        self.conversation = conversation


def change_of(body: Any) -> Change:
    """Check a PATCH body's shape. Raises ChatError (``invalid_parameter``)."""
    if not isinstance(body, dict):
        raise ChatError("invalid_parameter", _("Send a JSON object."))
    unknown = set(body) - {"status", "assignee", "if_assignee"}
    if unknown:
        raise ChatError(
            "invalid_parameter",
            _("Unknown field: %(field)s.") % {"field": sorted(unknown)[0]},
        )
    if "status" not in body and "assignee" not in body:
        raise ChatError("invalid_parameter", _("Change 'status' or 'assignee'."))
    status = body.get("status", UNSET)
    if status is not UNSET and status not in (Thread.OPEN, Thread.RESOLVED):
        raise ChatError(
            "invalid_parameter", _('\'status\' must be "open" or "resolved".')
        )
    for field in ("assignee", "if_assignee"):
        value = body.get(field, UNSET)
        if value is not UNSET and value is not None and not isinstance(value, str):
            raise ChatError(
                "invalid_parameter",
                _("'%(field)s' must be a username or null.") % {"field": field},
            )
    return Change(
        status=status,
        assignee=body.get("assignee", UNSET),
        if_assignee=body.get("if_assignee", UNSET),
    )


def customer_id_of(username: str) -> int:
    """The id of the customer (role user) named ``username``. Raises ChatError."""
    user_id = (
        User.objects.filter(username=username, role=Role.USER)
        .values_list("pk", flat=True)
        .first()
    )
    if user_id is None:
        raise ChatError(
            "unknown_user", _("There is no user named %(name)s.") % {"name": username}
        )
    return user_id


def _assignee_id(username: str | None) -> int | None:
    if username is None:
        return None
    admin_id = (
        User.objects.filter(username=username, role=Role.ADMIN, is_active=True)
        .values_list("pk", flat=True)
        .first()
    )
    if admin_id is None:
        raise ChatError(
            "invalid_assignee",
            _("%(name)s is not an active member of the support team.")
            % {"name": username},
        )
    return admin_id


def conversation_change(
    *, admin: User, username: str, change: Change
) -> tuple[dict[str, Any], bool]:
    """Apply ``change`` to ``username``'s conversation atomically; return the
    conversation (with ``admin``'s unread count) and whether anything changed.

    Raises ChatError (``unknown_user``, ``invalid_assignee``) or Conflict.
    """
    user_id = customer_id_of(username)
    assignee_id = UNSET if change.assignee is UNSET else _assignee_id(change.assignee)
    with transaction.atomic():
        # A customer who never wrote has no row yet; DO NOTHING when a
        # concurrent request or message created it first.
        Thread.objects.bulk_create([Thread(user_id=user_id)], ignore_conflicts=True)
        # Not select_related("assignee"): on PostgreSQL a row locked after a
        # wait is read afresh, but a joined row as it was before the wait.
        thread = Thread.objects.select_for_update(of=("self",)).get(pk=user_id)
        if change.if_assignee is not UNSET:
            current = thread.assignee.username if thread.assignee else None
            if current != change.if_assignee:
                raise Conflict(conversation_of(user_id, admin=admin))
        changed = []
        if change.status is not UNSET and change.status != thread.status:
            thread.status = change.status
            changed.append("status")
        if assignee_id is not UNSET and assignee_id != thread.assignee_id:
            thread.assignee_id = assignee_id
            changed.append("assignee")
        if changed:
            thread.save(update_fields=changed)
        return conversation_of(user_id, admin=admin), bool(changed)
