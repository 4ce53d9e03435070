from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts import tokens
from accounts.forms import USERNAME_TAKEN, username_taken
from accounts.models import RevokedToken, User


class UsernameKeyMixin:
    """Refuses a username another account holds ignoring case and width.

    The database refuses it too (``User.username_key``), but a ModelForm
    checks the uniqueness of its own fields only: without this the admin
    would answer that IntegrityError with a server error.
    """

    def clean_username(self):
        username = self.cleaned_data.get("username")
        if username and username_taken(username, other_than=self.instance):
            raise forms.ValidationError(USERNAME_TAKEN, code="unique")
        return username


class ChatUserCreationForm(UsernameKeyMixin, AdminUserCreationForm):
    pass


class ChatUserChangeForm(UsernameKeyMixin, UserChangeForm):
    def clean(self):
        cleaned = super().clean()
        # A new address is unverified until its link is followed, as on the
        # account page, unless the admin vouches for it in the same change.
        if "email" in self.changed_data:
            if "email_verified" not in self.changed_data:
                cleaned["email_verified"] = False
            if "email_bounced_at" not in self.changed_data:
                cleaned["email_bounced_at"] = None
        return cleaned


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = ChatUserChangeForm
    add_form = ChatUserCreationForm
    list_display = (
        "username",
        "display_name",
        "role",
        "email",
        "email_verified",
        "is_active",
        "last_login",
        "date_joined",
    )
    list_filter = ("role", "is_active", "is_staff", "email_verified", "language")
    search_fields = ("username", "display_name", "email")
    ordering = ("username",)
    readonly_fields = ("tokens_valid_after", "last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Support chat"), {"fields": ("display_name", "role", "tokens_valid_after")}),
        (
            _("Email and notifications"),
            {
                "fields": (
                    "email",
                    "email_verified",
                    "email_bounced_at",
                    "language",
                    "notify_replies",
                    "notify_new_conversations",
                ),
                "description": _(
                    "Nothing is emailed to an address until it is verified; a "
                    "changed address is unverified again unless you tick it. "
                    "Replies go to customers, new conversations to the team."
                ),
            },
        ),
        (_("Personal info"), {"fields": ("first_name", "last_name")}),
        (
            _("Permissions"),
            {
                "fields": (
                    "is_active",
                    "is_staff",
                    "is_superuser",
                    "groups",
                    "user_permissions",
                )
            },
        ),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "username",
                    "display_name",
                    "role",
                    "email",
                    "password1",
                    "password2",
                ),
            },
        ),
    )
    actions = ("deactivate", "sign_out_everywhere")

    @admin.action(description=_("Deactivate the selected users"))
    def deactivate(self, request, queryset):
        # Saved one by one so each user's sessions end (User.save).
        count = 0
        for user in queryset.filter(is_active=True):
            user.is_active = False
            user.save(update_fields=["is_active"])
            count += 1
        self.message_user(
            request,
            ngettext("%d user deactivated.", "%d users deactivated.", count) % count,
            messages.SUCCESS,
        )

    @admin.action(description=_("Sign the selected users out everywhere"))
    def sign_out_everywhere(self, request, queryset):
        count = 0
        for user in queryset:
            tokens.revoke_all(user)
            count += 1
        self.message_user(
            request,
            ngettext(
                "%d user signed out everywhere.",
                "%d users signed out everywhere.",
                count,
            )
            % count,
            messages.SUCCESS,
        )


@admin.register(RevokedToken)
class RevokedTokenAdmin(admin.ModelAdmin):
    list_display = ("token_id", "user", "revoked_at", "expires_at")
    search_fields = ("user__username",)
    readonly_fields = ("token_id", "user", "revoked_at", "expires_at")

    def has_add_permission(self, request):
        return False
