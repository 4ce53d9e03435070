import logging

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("Email notifications")

    def ready(self):
        from prometheus_client import REGISTRY

        from notifications.metrics import NotificationCollector

        REGISTRY.register(NotificationCollector())


def say_if_off() -> None:
    """Once at a server's or worker's start: are email notifications off?"""
    from django.conf import settings

    if not settings.EMAIL_ENABLED:
        logger.warning(
            "email notifications are off: DEBUG is off and no EMAIL_URL or "
            "EMAIL_HOST is set (README, Settings)"
        )
