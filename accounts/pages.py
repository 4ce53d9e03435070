"""The sign-in pages: login, register, logout and home (PROTOCOL.md 2).

They go through ``accounts.signin``, as the JSON API does.
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import i18n
from django.views.decorators.http import require_http_methods, require_POST

from accounts import profile, tokens
from accounts.forms import LoginForm, RegistrationForm
from accounts.http_auth import authenticate_request
from accounts.signin import (
    REGISTRATION_RETRY_AFTER_SECONDS,
    clear_token_cookie,
    locked_out,
    register,
    registration_allowed,
    registration_refusal,
    sign_in,
    user_of_credentials,
)


def next_url(request: HttpRequest) -> str:
    """Where to go after signing in: ``next`` when it stays on this site."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return "/support"


@require_http_methods(["GET", "POST"])
def login_page(request):
    """The login form; signed-in visitors go straight on to ``next``."""
    if request.method == "GET":
        if authenticate_request(request) is not None:
            return HttpResponseRedirect(next_url(request))
        context = {"form": LoginForm(), "next": next_url(request)}
        return render(request, "accounts/login.html", context)
    form = LoginForm(request.POST)
    user = user_of_credentials(request, form)
    if user is None:
        if form.is_valid() and not locked_out(request):
            form.add_error(None, _("Wrong username or password."))
        context = {"form": form, "next": next_url(request)}
        return render(request, "accounts/login.html", context, status=401)
    response = HttpResponseRedirect(next_url(request))
    sign_in(request, user, response)
    return response


@require_http_methods(["GET", "POST"])
def register_page(request):
    """The sign-up form; the new user is signed in and sent to the chat.

    Signed-in visitors asking for it go straight on to the chat, as on the
    login page.
    """
    if request.method == "GET" and authenticate_request(request) is not None:
        return HttpResponseRedirect("/support")
    form = RegistrationForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and not registration_allowed(request):
        form.is_valid()
        form.add_error(None, registration_refusal())
        response = render(request, "accounts/register.html", {"form": form}, status=429)
        response["Retry-After"] = str(REGISTRATION_RETRY_AFTER_SECONDS)
        return response
    if request.method == "POST" and form.is_valid():
        user = register(form)
        if user is not None:
            response = HttpResponseRedirect("/support")
            sign_in(request, user, response)
            return response
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/register.html", {"form": form}, status=status)


@require_POST
def logout_page(request):
    """Sign out this token and go back to the login page."""
    verified = authenticate_request(request)
    if verified is not None:
        tokens.revoke(verified)
    response = HttpResponseRedirect(settings.LOGIN_URL)
    clear_token_cookie(response)
    return response


def home_page(request):
    """The home page."""
    return render(request, "home.html")


def set_language(request):
    """Django's ``set_language``; a signed-in person's choice is also the
    language of their emails (``User.language``), as on the account page."""
    response = i18n.set_language(request)
    chosen = response.cookies.get(settings.LANGUAGE_COOKIE_NAME)
    verified = authenticate_request(request)
    if chosen is not None and chosen.value and verified is not None:
        profile.profile_language_set(user=verified.user, language=chosen.value)
    return response
