from django.apps import AppConfig


class LegacyConfig(AppConfig):
    """The import from the original Express + MySQL app (import_original)."""

    name = "legacy"
    verbose_name = "Import from the original app"
