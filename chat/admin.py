"""The chat in the Django admin: conversations (read-only transcripts, export,
deletion of one person's data), messages, and canned replies."""

import json

from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpResponse
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import Role, User
from chat.frames import message_frame
from chat.models import CannedReply, Message, ReadState, Thread

PREVIEW_CHARS = 80


def _preview(text: str) -> str:
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def _thread_messages(user_id: int):
    return (
        Message.objects.filter(thread_id=user_id)
        .select_related("thread", "sender")
        .order_by("id")
    )


class AssigneeFilter(admin.SimpleListFilter):
    """By owner: each admin who owns a conversation, or nobody."""

    title = _("assignee")
    parameter_name = "assignee"

    def lookups(self, request, model_admin):
        owners = (
            User.objects.filter(role=Role.ADMIN)
            .order_by("username")
            .values_list("pk", "username")
        )
        return [("none", _("Unassigned")), *((str(pk), name) for pk, name in owners)]

    def queryset(self, request, queryset):
        if self.value() == "none":
            return queryset.filter(assignee__isnull=True)
        if self.value() and self.value().isdigit():
            return queryset.filter(assignee_id=int(self.value()))
        return queryset


class NeedsReplyFilter(admin.SimpleListFilter):
    title = _("needs a reply")
    parameter_name = "needs_reply"

    def lookups(self, request, model_admin):
        return [("1", _("Yes")), ("0", _("No"))]

    def queryset(self, request, queryset):
        if self.value() in ("0", "1"):
            return queryset.filter(waiting_since__isnull=self.value() == "0")
        return queryset


@admin.register(Thread)
class ConversationAdmin(admin.ModelAdmin):
    """One row per customer's conversation; the transcript is read-only."""

    list_display = (
        "user",
        "customer_name",
        "status",
        "assignee",
        "needs_reply",
        "last_message_preview",
        "last_sent_at",
    )
    list_select_related = ("user", "last_message", "assignee")
    list_filter = ("status", AssigneeFilter, NeedsReplyFilter)
    search_fields = ("user__username", "user__display_name")
    ordering = ("-last_message_id",)
    fields = ("user", "status", "assignee", "waiting_since", "transcript")
    readonly_fields = fields

    @admin.display(description=_("needs a reply"), boolean=True)
    def needs_reply(self, thread):
        return thread.needs_reply

    actions = ("export_json", "delete_personal_data")

    @admin.display(description=_("name"))
    def customer_name(self, thread):
        return thread.user.name

    @admin.display(description=_("last message"))
    def last_message_preview(self, thread):
        return _preview(thread.last_message.text) if thread.last_message else ""

    @admin.display(description=_("sent at"))
    def last_sent_at(self, thread):
        return thread.last_message.created_at if thread.last_message else None

    @admin.display(description=_("transcript"))
    def transcript(self, thread):
        # Escaped by format_html_join: message texts are untrusted input.
        return format_html_join(
            "",
            "<p><strong>{}</strong>{} <small>{}</small><br>{}</p>",
            (
                (
                    message.sender_name,
                    _(" (internal note)") if message.note else "",
                    message.created_at,
                    message.text,
                )
                for message in _thread_messages(thread.user_id)
            ),
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Export the selected conversations as JSON"))
    def export_json(self, request, queryset):
        """For a data-access request: every message of each selected conversation."""
        export = [
            {
                "user": thread.user.username,
                "name": thread.user.name,
                "messages": [
                    message_frame(message)
                    for message in _thread_messages(thread.user_id)
                ],
            }
            for thread in queryset.select_related("user")
        ]
        response = HttpResponse(
            json.dumps({"conversations": export}, ensure_ascii=False, indent=2),
            content_type="application/json; charset=utf-8",
        )
        response["Content-Disposition"] = 'attachment; filename="conversations.json"'
        return response

    @admin.action(
        description=_("Delete the selected customers' accounts and conversations")
    )
    def delete_personal_data(self, request, queryset):
        """Erasure: the customer's messages, read marks and account, at once."""
        users = [thread.user for thread in queryset.select_related("user")]
        with transaction.atomic():
            for user in users:
                Thread.objects.filter(user=user).delete()
                ReadState.objects.filter(thread=user).delete()
                Message.objects.filter(thread=user).delete()
                user.delete()
        self.message_user(
            request,
            ngettext(
                "Deleted %(count)d customer's account and conversation.",
                "Deleted %(count)d customers' accounts and conversations.",
                len(users),
            )
            % {"count": len(users)},
            messages.SUCCESS,
        )

    def get_actions(self, request):
        # Django's bulk delete would leave the account and its messages.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """Every stored message, searchable; nobody edits history."""

    list_display = (
        "id",
        "thread",
        "sender_name",
        "sender_role",
        "preview",
        "created_at",
    )
    list_select_related = ("thread",)
    list_filter = ("sender_role", "note", "created_at")
    search_fields = ("text", "thread__username", "sender__username")
    ordering = ("-id",)
    show_full_result_count = False

    @admin.display(description=_("text"))
    def preview(self, message):
        return _preview(message.text)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    list_display = ("shortcut", "text")
    search_fields = ("shortcut", "text")
