"""The chat's models in the Django admin: canned replies, kept by the team."""

from django.contrib import admin

from chat.models import CannedReply


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    list_display = ("shortcut", "text")
    search_fields = ("shortcut", "text")
