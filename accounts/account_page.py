"""The account page (``/account``) and the page a verification link opens.

One form per section, each posted to ``/account`` with its name in ``form``;
a saved change goes back to the page (post/redirect/get) with a message, a
refused one shows the page again with the field's errors (400). Writes are
``accounts.profile``'s; the email with the link is
``accounts.email_verification``'s.
"""

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts import profile
from accounts.account_forms import (
    EmailForm,
    LanguageForm,
    NameForm,
    NotificationsForm,
    PasswordForm,
)
from accounts.email_verification import (
    AddressState,
    MailServerUnavailable,
    Outcome,
    TooManyEmails,
    UnusableAddress,
    address_state,
    address_verify,
    verification_email_send,
)
from accounts.http_auth import authenticate_request, login_required_page
from accounts.models import User
from accounts.signin import sign_in
from chat.limits import Rate, limits

# Each attempt checks the current password: a borrowed session must not be a
# way to guess it. Five at once, then one a minute.
PASSWORD_ATTEMPTS = Rate("password_change", 1 / 60, 5)


def _page(
    request: HttpRequest, user: User, bound=None, *, status: int = 200
) -> HttpResponse:
    forms = {
        "name": NameForm(initial={"name": user.display_name}),
        "email": EmailForm(initial={"email": user.email}),
        "notifications": NotificationsForm(
            initial={"enabled": profile.profile_notifications_enabled(user)}
        ),
        "language": LanguageForm(
            initial={"language": user.language or translation.get_language()}
        ),
        "password": PasswordForm(user),
    }
    if bound is not None:
        forms[bound[0]] = bound[1]
    context = {
        "forms": forms,
        "account": user,
        "address_state": address_state(user),
    }
    return render(request, "accounts/account.html", context, status=status)


def _back(
    request: HttpRequest, section: str, text: str, level: int = messages.SUCCESS
) -> HttpResponseRedirect:
    """Back to the page at ``section``, which shows ``text`` in that section."""
    messages.add_message(request, level, text, extra_tags=section)
    return HttpResponseRedirect(f"{reverse('account')}#{section}")


def _email_language(user: User) -> str:
    """The person's language, else the page's."""
    return user.language or translation.get_language() or settings.LANGUAGE_CODE


def _send_link(user: User) -> tuple[str, int]:
    """Send the verification link now; what to tell the person, and how loud."""
    try:
        verification_email_send(user=user, language=_email_language(user))
    except TooManyEmails:
        return _(
            "You asked for several links in a short time. Try again in a few minutes."
        ), messages.ERROR
    except UnusableAddress:
        return _("This address cannot be used: change it."), messages.ERROR
    except MailServerUnavailable:
        return _(
            "We could not send the email just now; try again in a moment."
        ), messages.ERROR
    return _("We sent a link to %(address)s: open it to confirm the address.") % {
        "address": user.email
    }, messages.SUCCESS


def _save_name(request: HttpRequest, user: User) -> HttpResponse:
    form = NameForm(request.POST)
    if not form.is_valid():
        return _page(request, user, ("name", form), status=400)
    profile.profile_rename(user=user, display_name=form.cleaned_data["name"])
    return _back(request, "name", _("Your name is saved."))


def _save_email(request: HttpRequest, user: User) -> HttpResponse:
    form = EmailForm(request.POST)
    if not form.is_valid():
        return _page(request, user, ("email", form), status=400)
    address = form.cleaned_data["email"]
    if not profile.profile_email_change(user=user, email=address):
        return _back(
            request, "email", _("That is already your address."), messages.INFO
        )
    if not address:
        return _back(request, "email", _("Your email address is removed."))
    return _back(request, "email", *_send_link(user))


def _send_again(request: HttpRequest, user: User) -> HttpResponse:
    state = address_state(user)
    if state is AddressState.NONE:
        return _back(request, "email", _("Add an address first."), messages.INFO)
    if state is AddressState.VERIFIED:
        return _back(
            request, "email", _("Your address is already verified."), messages.INFO
        )
    return _back(request, "email", *_send_link(user))


def _save_notifications(request: HttpRequest, user: User) -> HttpResponse:
    form = NotificationsForm(request.POST)
    if not form.is_valid():
        return _page(request, user, ("notifications", form), status=400)
    enabled = form.cleaned_data["enabled"]
    profile.profile_notifications_set(user=user, enabled=enabled)
    if enabled and address_state(user) is not AddressState.VERIFIED:
        text = _("Saved. Emails start once your address is verified.")
    else:
        text = _("Your email settings are saved.")
    return _back(request, "notifications", text)


def _save_language(request: HttpRequest, user: User) -> HttpResponse:
    form = LanguageForm(request.POST)
    if not form.is_valid():
        return _page(request, user, ("language", form), status=400)
    language = form.cleaned_data["language"]
    profile.profile_language_set(user=user, language=language)
    with translation.override(language):
        response = _back(request, "language", _("Your language is saved."))
    # What Django's set_language view does, so the pages follow at once.
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
    return response


def _change_password(request: HttpRequest, user: User) -> HttpResponse:
    form = PasswordForm(user, request.POST)
    if not limits.allow_sync(PASSWORD_ATTEMPTS, str(user.pk)):
        form.is_valid()
        form.add_error(
            None, _("Too many attempts to change the password. Try again in a minute.")
        )
        return _page(request, user, ("password", form), status=429)
    if not form.is_valid():
        return _page(request, user, ("password", form), status=400)
    profile.profile_password_change(
        user=user, password=form.cleaned_data["new_password"]
    )
    response = _back(
        request,
        "password",
        _("Your password is changed. Your other sessions are signed out."),
    )
    # The change ended every session, this one included: this browser gets a
    # token issued after it, the others stay signed out.
    sign_in(request, user, response)
    return response


SECTIONS = {
    "name": _save_name,
    "email": _save_email,
    "send_again": _send_again,
    "notifications": _save_notifications,
    "language": _save_language,
    "password": _change_password,
}


@require_http_methods(["GET", "POST"])
@login_required_page
def account_page(request: HttpRequest) -> HttpResponse:
    """``/account``: the person's name, address, emails, language, password."""
    user = authenticate_request(request).user
    if request.method == "GET":
        return _page(request, user)
    save = SECTIONS.get(request.POST.get("form", ""))
    if save is None:
        return _page(request, user, status=400)
    return save(request, user)


@require_GET
def verify_page(request: HttpRequest, token: str) -> HttpResponse:
    """``/account/verify/<token>``: a verification link, signed in or not."""
    outcome, user = address_verify(token=token)
    context = {
        "outcome": outcome,
        "address": user.email if outcome is Outcome.VERIFIED else "",
        "signed_in": authenticate_request(request) is not None,
    }
    # 200 whatever the outcome: Django logs every 4xx answer with its path,
    # and the path holds the token.
    return render(request, "accounts/verify.html", context)
