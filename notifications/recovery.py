"""Tasks a killed worker left behind.

django-tasks-db marks a task RUNNING when a worker claims it and never looks
at it again: a worker killed while sending (a restart, the OOM killer)
leaves its notification pending for ever. A notification task lasts seconds
(one email, with EMAIL_TIMEOUT), so one still RUNNING after
``STUCK_AFTER_SECONDS`` belongs to a worker that is gone: it is made READY
again. Running it twice is safe; the task sends only a pending notification,
under a row lock.
"""

import logging
import threading
from datetime import timedelta

from django.db import close_old_connections
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from notifications.tasks import send_notification

logger = logging.getLogger(__name__)

STUCK_AFTER_SECONDS = 600
CHECK_EVERY_SECONDS = 60


def requeue_stuck_tasks() -> int:
    """Make the notification tasks stuck RUNNING ready again; how many."""
    stuck = DBTaskResult.objects.filter(
        status=TaskResultStatus.RUNNING,
        task_path=send_notification.module_path,
        started_at__lt=timezone.now() - timedelta(seconds=STUCK_AFTER_SECONDS),
    )
    count = stuck.update(status=TaskResultStatus.READY)
    if count:
        logger.warning(
            "%d email task(s) left running by a stopped worker: queued again", count
        )
    return count


def keep_requeuing(stop: threading.Event) -> None:
    """Until ``stop`` is set: :func:`requeue_stuck_tasks` now and every minute."""
    while not stop.is_set():
        try:
            requeue_stuck_tasks()
        except Exception:
            logger.exception("could not look for stuck email tasks")
        finally:
            close_old_connections()
        stop.wait(CHECK_EVERY_SECONDS)
