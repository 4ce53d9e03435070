"""The original's ``usuarios`` as accounts here: same username, same display
name, the same password (its bcrypt hash kept), a role only the operator
grants.

A name is never changed to make it fit: a row whose username our sign-up
would refuse, or that another row or account here holds in another case,
is skipped and reported.
"""

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction

from accounts.models import Role, User, username_key_for
from legacy.models import ImportedAccount
from legacy.report import Report
from legacy.source import Account

# UnicodeUsernameValidator's rule and the sign-up form's length.
_USERNAME = re.compile(r"^[\w.@+-]+\Z")
MAX_USERNAME = MAX_NAME = 150
# What bcryptjs writes: $2a$, a two-digit cost, 22 characters of salt and 31
# of hash.
_BCRYPT = re.compile(r"^\$2[abxy]\$\d\d\$[./A-Za-z0-9]{53}\Z")
TEAM = "admin"  # the original's `para_usuario` for "to the team"
CHUNK = 2000


@dataclass(frozen=True)
class Person:
    """An original username as the messages see it once accounts are in."""

    user_id: int
    admin: bool
    name: str


@dataclass(frozen=True)
class Directory:
    """Original usernames with an account made by this import (now or in an
    earlier run), and why the others have none."""

    people: dict[str, Person]
    absent: dict[str | None, str]
    # The original's `rol = 'admin'` rows, whatever they became here.
    admin_rows: frozenset[str] = frozenset()

    def why_not(self, username: str | None) -> str:
        return self.absent.get(username, "not in usuarios")


class AdminChoiceError(Exception):
    pass


def refused_because(username: str | None) -> str | None:
    """Why our rules refuse ``username`` as it is, or None."""
    if not username:
        return "no username"
    if unicodedata.normalize("NFKC", username) != username:
        return "username not in Unicode normal form (NFKC)"
    if len(username) > MAX_USERNAME:
        return f"username longer than {MAX_USERNAME} characters"
    if not _USERNAME.match(username):
        return "username with characters other than letters, digits and @ . + - _"
    return None


def admin_choice(
    rows: list[Account], admins: list[str], trust_admin_role: bool
) -> set[str]:
    """The usernames to import as admins. Raises AdminChoiceError when
    ``admins`` names someone who is not an ``admin`` row."""
    admin_rows = {row.username for row in rows if row.role == TEAM}
    if trust_admin_role:
        return admin_rows
    roles = {row.username: row.role for row in rows}
    problems = []
    for name in admins:
        if name not in roles:
            problems.append(f"{name!r} is not a username in usuarios")
        elif roles[name] != TEAM:
            problems.append(f"{name!r} has rol {roles[name]!r}, not 'admin'")
    if problems:
        raise AdminChoiceError("--admins: " + "; ".join(problems) + ".")
    return set(admins)


def import_accounts(
    rows: list[Account],
    *,
    admins: set[str],
    joined: datetime,
    report: Report,
    dry_run: bool,
) -> "Directory":
    """Create an account for each new row; who each original username is now,
    for the messages."""
    imported = dict(ImportedAccount.objects.values_list("username", "user_id"))
    by_key: dict[str, list[Account]] = {}
    for row in rows:
        if row.username:
            by_key.setdefault(username_key_for(row.username), []).append(row)
    keys = list(by_key)
    taken_here = {
        key
        for start in range(0, len(keys), CHUNK)
        for key in User.objects.filter(
            username_key__in=keys[start : start + CHUNK]
        ).values_list("username_key", flat=True)
    }
    imported_keys = {username_key_for(name) for name in imported}
    new: list[User] = []
    skipped: dict[str | None, str] = {}
    earlier_admin_rows: list[str] = []
    for row in rows:
        name = row.username
        if name in imported:
            report.accounts_existing += 1
            if row.role == TEAM:
                earlier_admin_rows.append(name)
            continue
        reason = refused_because(name)
        if reason is None:
            key = username_key_for(name)
            if len(by_key[key]) > 1:
                others = sorted(other.username for other in by_key[key])
                reason = "same name ignoring case as another row: " + " / ".join(others)
            elif key in taken_here:
                reason = (
                    "an account imported earlier has this name in another case"
                    if key in imported_keys
                    else "an account of this name already exists here"
                )
        if reason is not None:
            skipped[name] = "account skipped"
            report.accounts_skipped.add(reason, repr(name))
            if row.role == TEAM:
                report.admin_rows.append((str(name), "skipped: " + reason))
            continue
        new.append(_account_of(row, name in admins, joined, report))
    if not dry_run:
        _create(new, report, imported, skipped)
    else:
        report.accounts_created += len(new)
    people = _people(imported)
    for name in earlier_admin_rows:
        person = people.get(name)
        outcome = "admin" if person and person.admin else "user"
        report.admin_rows.append(
            (
                name,
                f"imported earlier; {outcome} now"
                if person
                else "imported earlier; deleted here since",
            )
        )
    if dry_run:
        # What the messages would find once these accounts exist.
        for user in new:
            people[user.username] = Person(0, user.is_support_admin, user.name)
    absent = {name: "account deleted here since it was imported" for name in imported}
    absent.update(skipped)
    return Directory(
        people, absent, frozenset(row.username for row in rows if row.role == TEAM)
    )


def _account_of(row: Account, admin: bool, joined: datetime, report: Report) -> User:
    name = row.name or ""
    if "\x00" in name or len(name) > MAX_NAME:
        name = name.replace("\x00", "")[:MAX_NAME]
        report.account_notes.add(
            "display name shortened or cleaned", repr(row.username)
        )
    if row.password_hash and _BCRYPT.match(row.password_hash):
        password = "bcrypt$" + row.password_hash
    else:
        # No usable password: the team sets one in the Django admin.
        password = make_password(None)
        report.account_notes.add(
            "no bcrypt hash in pass: no password", repr(row.username)
        )
    if row.picture:
        report.account_notes.add(
            "imagen not imported (a file in the original's public/uploads/)",
            f"{row.username}: {row.picture}",
        )
    if row.role == TEAM:
        report.admin_rows.append(
            (row.username, "admin" if admin else "user (not named in --admins)")
        )
    return User(
        username=row.username,
        display_name=name,
        role=Role.ADMIN if admin else Role.USER,
        password=password,
        # Before any token the original minted for this name: those tokens
        # are this person's (accounts.tokens refuses tokens older than the
        # account holding their name).
        date_joined=joined,
    )


def _create(
    users: list[User],
    report: Report,
    imported: dict[str, int],
    skipped: dict[str | None, str],
) -> None:
    """Insert ``users`` in chunks; each one made goes into ``imported``, each
    one refused (its name taken meanwhile) into ``skipped``."""
    for start in range(0, len(users), CHUNK):
        chunk = users[start : start + CHUNK]
        try:
            with transaction.atomic():
                imported.update(_insert(chunk))
            report.accounts_created += len(chunk)
        except IntegrityError:
            # Someone signed up with one of these names meanwhile: one by one.
            for user in chunk:
                try:
                    with transaction.atomic():
                        imported.update(_insert([user]))
                    report.accounts_created += 1
                except IntegrityError:
                    skipped[user.username] = "account skipped"
                    report.accounts_skipped.add(
                        "an account of this name already exists here",
                        repr(user.username),
                    )


def _insert(users: list[User]) -> dict[str, int]:
    created = {user.username: user.pk for user in User.objects.bulk_create(users)}
    ImportedAccount.objects.bulk_create(
        ImportedAccount(username=name, user_id=pk) for name, pk in created.items()
    )
    return created


def _people(imported: dict[str, int]) -> dict[str, Person]:
    """Original username -> Person, for every imported account still here."""
    # A subquery: a hundred thousand ids are more parameters than SQLite takes.
    users = User.objects.filter(
        pk__in=ImportedAccount.objects.values("user_id")
    ).values_list("pk", "role", "display_name", "username")
    by_id = {
        pk: Person(pk, role == Role.ADMIN, display_name or username)
        for pk, role, display_name, username in users
    }
    return {name: by_id[pk] for name, pk in imported.items() if pk in by_id}
