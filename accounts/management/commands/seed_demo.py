"""Create the demo accounts once: one admin and two users, with generated passwords."""

import secrets

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Role, User

DEMO_ACCOUNTS = (
    ("admin", "Support (demo)", Role.ADMIN),
    ("ana", "Ana García", Role.USER),
    ("luis", "Luis Pérez", Role.USER),
)


class Command(BaseCommand):
    help = (
        "Create the demo admin and users if they do not exist, and print their "
        "generated passwords (shown only when an account is created)."
    )

    def handle(self, *args, **options):
        created = []
        with transaction.atomic():
            for username, name, role in DEMO_ACCOUNTS:
                if User.objects.filter(username=username).exists():
                    continue
                password = secrets.token_urlsafe(12)
                user = User.objects.create_user(username, password=password)
                user.display_name = name
                user.role = role
                user.is_staff = user.is_superuser = role == Role.ADMIN
                user.save()
                created.append((username, role, password))
        if not created:
            self.stdout.write(
                "Demo accounts already exist; passwords are not shown again."
            )
            return
        self.stdout.write(self.style.SUCCESS("Demo accounts created (shown once):"))
        for username, role, password in created:
            self.stdout.write(
                f"  {role:<5}  username: {username:<6}  password: {password}"
            )
