from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"


class ChatAdminConfig(AdminConfig):
    """The Django admin, signed in through the same token cookie as the site."""

    default_site = "accounts.admin_site.ChatAdminSite"
