"""The sign-in path shared by the JSON API (accounts.views) and the pages
(accounts.pages): check credentials, issue the token, set or clear its cookie,
and the sign-up rules around them. Nothing here decodes a token.
"""

from axes.helpers import get_client_ip_address
from axes.utils import reset as reset_failed_attempts
from django.conf import settings
from django.contrib.auth import authenticate, user_logged_in
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import gettext as _

from accounts import tokens
from accounts.email_verification import verification_email_try
from accounts.forms import USERNAME_TAKEN, LoginForm, RegistrationForm
from accounts.models import User
from chat.limits import Rate, limits
from chatproject.isotime import iso_utc

# With the default 20 an hour, one attempt comes back every three minutes.
REGISTRATION_RETRY_AFTER_SECONDS = 180


def session_body(user: User, expires_at) -> dict:
    """What login, refresh and ``/api/me`` answer: who is signed in, until when."""
    return {
        "user": user.username,
        "name": user.name,
        "rol": user.role,
        "expires_at": iso_utc(expires_at),
    }


def set_token_cookie(response: HttpResponse, issued: tokens.IssuedToken) -> None:
    response.set_cookie(
        tokens.COOKIE_NAME,
        issued.token,
        max_age=settings.JWT_LIFETIME_SECONDS,
        path="/",
        secure=settings.JWT_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def clear_token_cookie(response: HttpResponse) -> None:
    response.delete_cookie(tokens.COOKIE_NAME, path="/", samesite="Lax")


def sign_in(
    request: HttpRequest, user: User, response: HttpResponse
) -> tokens.IssuedToken:
    """Issue a token for ``user`` and put it into ``response``'s cookie."""
    issued = tokens.issue(user)
    set_token_cookie(response, issued)
    # Updates last_login and lets Axes log the sign-in.
    user_logged_in.send(sender=User, request=request, user=user)
    return issued


def forgive_failed_attempts(request: HttpRequest, user: User) -> None:
    """After a correct password, clear this address's failed attempts at this user.

    Only that pair: Axes' own reset on success (off in settings) also clears
    the address's failures at other usernames, so an attacker who signs in to
    an account of their own between guesses would never be locked out.
    """
    ip_address = getattr(request, "axes_ip_address", None)
    if ip_address:
        reset_failed_attempts(ip=ip_address, username=user.get_username())


def user_of_credentials(request: HttpRequest, form: LoginForm) -> User | None:
    """The user a login form's credentials sign in, or None.

    The one check behind the JSON and the HTML login: a valid form, then
    Django's ``authenticate`` (Axes first, so a locked-out client's
    password is never checked; :func:`locked_out` tells that case apart).
    After a correct password, this address's failures at that user are
    forgiven.
    """
    if not form.is_valid():
        return None
    user = authenticate(
        request,
        username=form.cleaned_data["username"],
        password=form.cleaned_data["password"],
    )
    if user is not None:
        forgive_failed_attempts(request, user)
    return user


def locked_out(request: HttpRequest) -> bool:
    """Whether Axes refused this login attempt (too many failures)."""
    return getattr(request, "axes_locked_out", False)


def registration_allowed(request: HttpRequest) -> bool:
    """Whether this client address may try one more sign-up now.

    Counted per address (as the login lock reads it) across every process:
    each attempt tells whether a name is taken, so unthrottled, sign-up
    would list the site's accounts.
    """
    per_hour = settings.REGISTRATIONS_PER_HOUR
    rate = Rate("register", per_hour / 3600, per_hour)
    return limits.allow_sync(rate, get_client_ip_address(request) or "unknown")


def registration_refusal() -> str:
    return _("Too many sign-ups from your address. Try again in a few minutes.")


def register(form: RegistrationForm) -> User | None:
    """Create the account, or add a field error when a concurrent sign-up won.

    Its emails are in the language the page was in; with an address, the
    link that verifies it is sent (a mail server that is down does not stop
    the sign-up: the account page sends it again).
    """
    language = translation.get_language() or ""
    if language not in dict(settings.LANGUAGES):
        language = ""
    try:
        with transaction.atomic():
            user = form.save(language=language)
    except IntegrityError:
        form.add_error("username", USERNAME_TAKEN)
        return None
    if user.email:
        verification_email_try(user=user, language=language or settings.LANGUAGE_CODE)
    return user
