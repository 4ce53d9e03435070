"""Create the demo accounts once: one admin and two users, with generated passwords,
and a few canned replies for the team to try ``/`` in the composer.

``--reset-passwords`` gives them new ones and prints those: the way back in
once the first run's output is gone (passwords are stored hashed, so the old
ones cannot be shown again).
"""

import secrets

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Role, User, is_admin_role
from chat.models import CannedReply

DEMO_ACCOUNTS = (
    ("admin", "Support (demo)", Role.ADMIN),
    ("ana", "Ana García", Role.USER),
    ("luis", "Luis Pérez", Role.USER),
)

DEMO_CANNED_REPLIES = (
    ("hello", "Hi {name}, thanks for writing to us. How can we help?"),
    ("hola", "Hola {name}, gracias por escribirnos. ¿En qué podemos ayudarte?"),
    ("order", "Could you tell me your order number, {name}? I'll look it up."),
    ("thanks", "Thank you, {name}. Is there anything else we can do for you?"),
)


class Command(BaseCommand):
    help = (
        "Create the demo admin and users if they do not exist, and print their "
        "generated passwords (shown only when an account is created). With "
        "--reset-passwords, give every demo account a new password and print it."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset-passwords",
            action="store_true",
            help="Give the existing demo accounts new generated passwords and "
            "print them (signs those accounts out everywhere).",
        )

    def handle(self, *args, reset_passwords=False, **options):
        shown = []
        with transaction.atomic():
            for username, name, role in DEMO_ACCOUNTS:
                password = secrets.token_urlsafe(12)
                user = User.objects.filter(username=username).first()
                if user is None:
                    user = User.objects.create_user(username, password=password)
                    user.display_name = name
                    user.role = role
                    user.is_staff = user.is_superuser = is_admin_role(role)
                    user.save()
                elif reset_passwords:
                    user.set_password(password)
                    user.save(update_fields=["password"])
                else:
                    continue
                shown.append((username, user.role, password))
            if shown and not reset_passwords and not CannedReply.objects.exists():
                CannedReply.objects.bulk_create(
                    CannedReply(shortcut=shortcut, text=text)
                    for shortcut, text in DEMO_CANNED_REPLIES
                )
        if not shown:
            # No word "password" beyond this sentence: scripts/smoke_make_run.py
            # checks that a second run shows none.
            self.stdout.write(
                "Demo accounts already exist; passwords are not shown again "
                "(`make demo-accounts` sets and shows new ones)."
            )
            return
        heading = (
            "New passwords of the demo accounts:"
            if reset_passwords
            else "Demo accounts created (shown once):"
        )
        self.stdout.write(self.style.SUCCESS(heading))
        for username, role, password in shown:
            self.stdout.write(
                f"  {role:<5}  username: {username:<6}  password: {password}"
            )
