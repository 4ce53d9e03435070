"""`manage.py email_worker`: django-tasks-db's `db_worker`, which sends the
email notifications, plus a thread that puts back the tasks a killed worker
left running (``notifications.recovery``). Same options as `db_worker`."""

import threading

from django_tasks_db.management.commands.db_worker import Command as DbWorker

from notifications.apps import say_if_off
from notifications.recovery import keep_requeuing


class Command(DbWorker):
    help = DbWorker.help + ", and requeue the email tasks of workers that were killed"

    def handle(self, *args, **options):
        say_if_off()
        stop = threading.Event()
        recovery = threading.Thread(
            target=keep_requeuing, args=(stop,), name="email-recovery", daemon=True
        )
        recovery.start()
        try:
            return super().handle(*args, **options)
        finally:
            stop.set()
