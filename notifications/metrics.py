"""Email notifications in /metrics, read from the database at each scrape.

The worker that sends them is another process, so counters kept in its
memory would never reach the server's /metrics; the notifications' rows
are the truth every process can read (two indexed queries per scrape).
"""

import logging

from django.db import DatabaseError
from django.db.models import Count, Min, Q
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from notifications.models import Notification

logger = logging.getLogger(__name__)


class NotificationCollector:
    def describe(self):
        # Without it, registering would call collect(): a query at start-up,
        # before the tables may exist.
        return list(self._families())

    def _families(self):
        by_state = GaugeMetricFamily(
            "chat_email_notifications",
            "Email notifications by state (pending, sent, cancelled, failed).",
            labels=["state"],
        )
        retrying = GaugeMetricFamily(
            "chat_email_notifications_retrying",
            "Pending email notifications whose sending failed at least once "
            "(the mail server was down or said to try later).",
        )
        overdue = GaugeMetricFamily(
            "chat_email_oldest_overdue_seconds",
            "How long the oldest pending email notification is past its due time.",
        )
        return by_state, retrying, overdue

    def collect(self):
        by_state, retrying, overdue = self._families()
        try:
            counts = dict(
                Notification.objects.values_list("state").annotate(n=Count("id"))
            )
            pending = Notification.objects.filter(
                state=Notification.State.PENDING
            ).aggregate(
                retrying=Count("id", filter=Q(attempts__gt=0)), oldest=Min("due_at")
            )
        except DatabaseError:
            logger.exception("email notification metrics unavailable")
            return
        for state in Notification.State.values:
            by_state.add_metric([state], counts.get(state, 0))
        retrying.add_metric([], pending["retrying"])
        oldest = pending["oldest"]
        late = (timezone.now() - oldest).total_seconds() if oldest else 0
        overdue.add_metric([], max(0.0, late))
        yield by_state
        yield retrying
        yield overdue
