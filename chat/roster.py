"""The team as presence lists it (``chat.presence``): every active admin, read
from the database once per process per minute, and the availability each
admin stores."""

from dataclasses import dataclass

from accounts.models import Role, User


@dataclass
class Admin:
    username: str
    name: str
    availability: str


def active_admins() -> dict[int, Admin]:
    """Every active admin, by id: the team as presence lists it."""
    rows = User.objects.filter(role=Role.ADMIN, is_active=True).values_list(
        "id", "username", "display_name", "availability"
    )
    return {
        pk: Admin(username, display_name or username, availability)
        for pk, username, display_name, availability in rows
    }


def availability_store(user_id: int, status: str) -> None:
    User.objects.filter(pk=user_id).update(availability=status)
