"""The account page's forms, one per section: name, email, notifications,
language, password. Each validates only; ``accounts.profile`` writes."""

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.utils.translation import gettext_lazy as _

from accounts.forms import EMAIL_HELP_TEXT, briefly, normalized_email
from accounts.models import User

MAX_PASSWORD_CHARS = 4096


class NameForm(forms.Form):
    name = forms.CharField(
        label=_("Display name"),
        max_length=150,
        required=False,
        help_text=_("Shown in the chat. Left empty, your username is shown."),
    )


class EmailForm(forms.Form):
    email = forms.EmailField(
        label=_("Email address"),
        max_length=254,
        required=False,
        help_text=EMAIL_HELP_TEXT,
    )

    def clean_email(self):
        return normalized_email(self.cleaned_data["email"])


class NotificationsForm(forms.Form):
    """One checkbox: the kind of email this person may get (by role)."""

    enabled = forms.BooleanField(required=False)


class LanguageForm(forms.Form):
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)


class PasswordForm(forms.Form):
    """Current password, new password twice; Django's validators on the new one."""

    current_password = forms.CharField(
        label=_("Current password"),
        max_length=MAX_PASSWORD_CHARS,
        strip=False,
        widget=forms.PasswordInput,
    )
    new_password = forms.CharField(
        label=_("New password"),
        max_length=MAX_PASSWORD_CHARS,
        strip=False,
        widget=forms.PasswordInput,
        help_text=password_validation.password_validators_help_text_html(),
    )
    new_password_again = forms.CharField(
        label=_("New password again"),
        max_length=MAX_PASSWORD_CHARS,
        strip=False,
        widget=forms.PasswordInput,
    )

    def __init__(self, user: User, *args, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_current_password(self):
        password = self.cleaned_data["current_password"]
        if not self.user.check_password(password):
            raise forms.ValidationError(
                _("That is not your current password."), code="password_incorrect"
            )
        return password

    def clean(self):
        cleaned = super().clean()
        new, again = cleaned.get("new_password"), cleaned.get("new_password_again")
        if new and again and new != again:
            self.add_error(
                "new_password_again",
                forms.ValidationError(
                    _("The two new passwords differ."), code="password_mismatch"
                ),
            )
        elif new:
            try:
                password_validation.validate_password(new, self.user)
            except forms.ValidationError as err:
                self.add_error("new_password", [briefly(e) for e in err.error_list])
        return cleaned
