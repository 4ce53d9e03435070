"""Forms shared by the HTML pages and the JSON API, so both validate alike."""

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import UsernameField
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.utils.translation import gettext_lazy as _

from accounts.models import User, username_key_for

USERNAME_TAKEN = _("That username is taken.")


def username_taken(username: str, *, other_than: User | None = None) -> bool:
    """True when an account other than ``other_than`` holds ``username``'s key."""
    holders = User.objects.filter(username_key=username_key_for(username))
    if other_than is not None and other_than.pk is not None:
        holders = holders.exclude(pk=other_than.pk)
    return holders.exists()


PASSWORD_TOO_SHORT = _("This password is too short.")


def briefly(error: forms.ValidationError) -> forms.ValidationError:
    """``error`` without a rule the form's help text already prints below it."""
    if error.code == "password_too_short":
        return forms.ValidationError(PASSWORD_TOO_SHORT, code=error.code)
    return error


class LoginForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    password = forms.CharField(
        label=_("Password"), max_length=4096, strip=False, widget=forms.PasswordInput
    )


EMAIL_HELP_TEXT = _(
    "For the team's replies while you are away. We first send a link to check it."
)


def normalized_email(address: str) -> str:
    """``address`` as stored: its domain in lower case (Django's rule), or ""."""
    return User.objects.normalize_email(address) if address else ""


class RegistrationForm(forms.Form):
    """Sign-up: username, display name, optional email, password. Never a role."""

    # UsernameField applies NFKC before the validators run, so the length and
    # the characters checked are those of the name that is stored.
    username = UsernameField(
        label=_("Username"),
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text=_("Letters, digits and @ . + - _ only."),
    )
    name = forms.CharField(label=_("Your name"), max_length=150, required=False)
    email = forms.EmailField(
        label=_("Email address"),
        max_length=254,
        required=False,
        help_text=EMAIL_HELP_TEXT,
    )
    password = forms.CharField(
        label=_("Password"),
        max_length=4096,
        strip=False,
        widget=forms.PasswordInput,
        help_text=password_validation.password_validators_help_text_html(),
    )

    def clean_username(self):
        username = self.cleaned_data["username"]
        if username_taken(username):
            raise forms.ValidationError(USERNAME_TAKEN, code="username_taken")
        return username

    def clean(self):
        cleaned = super().clean()
        password = cleaned.get("password")
        if password:
            # Checked even when the username was refused (taken, say), so the
            # person sees every problem at once; the typed name still counts
            # for the similarity rule.
            username = cleaned.get("username") or self.data.get("username", "")
            candidate = User(username=username, display_name=cleaned.get("name", ""))
            try:
                password_validation.validate_password(password, candidate)
            except forms.ValidationError as err:
                self.add_error("password", [briefly(e) for e in err.error_list])
        return cleaned

    def clean_email(self):
        return normalized_email(self.cleaned_data["email"])

    def save(self, *, language: str = "") -> User:
        """Create the account (its role always ``user``), its emails in ``language``."""
        return User.objects.create_user(
            self.cleaned_data["username"],
            email=self.cleaned_data.get("email", ""),
            password=self.cleaned_data["password"],
            display_name=self.cleaned_data.get("name", ""),
            language=language,
        )
