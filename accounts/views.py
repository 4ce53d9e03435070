"""Sign in, sign up, refresh and sign out: as JSON API and as HTML pages.

Views validate with the forms, call ``accounts.tokens`` and set or clear the
cookie; nothing here decodes a token.
"""

import json
import logging

from axes.helpers import get_client_ip_address
from axes.utils import reset as reset_failed_attempts
from django.conf import settings
from django.contrib.auth import authenticate, user_logged_in
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.csrf import csrf_failure as django_csrf_failure
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import tokens
from accounts.forms import USERNAME_TAKEN, LoginForm, RegistrationForm
from accounts.http_auth import api_error, authenticate_request, token_required
from accounts.models import User
from chat.limits import Rate, limits
from chatproject.isotime import iso_utc

logger = logging.getLogger(__name__)

MAX_JSON_BODY_BYTES = 64 * 1024
# With the default 20 an hour, one attempt comes back every three minutes.
REGISTRATION_RETRY_AFTER_SECONDS = 180


class BadJson(Exception):
    """The request body is not a JSON object."""


def read_json(request: HttpRequest) -> dict:
    """Return the request's JSON object body, or raise :class:`BadJson`."""
    if len(request.body) > MAX_JSON_BODY_BYTES:
        raise BadJson(_("The request body is too large."))
    try:
        body = json.loads(request.body or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BadJson(_("The request body is not valid JSON.")) from err
    if not isinstance(body, dict):
        raise BadJson(_("The request body must be a JSON object."))
    return body


def bad_json(err: BadJson) -> JsonResponse:
    return api_error(400, "bad_json", str(err))


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


def signed_in_json(request: HttpRequest, user: User, status: int = 200) -> HttpResponse:
    """The API answer to a successful sign-in: the session body and a new cookie."""
    response = HttpResponse(status=status, content_type="application/json")
    issued = sign_in(request, user, response)
    response.content = json.dumps(session_body(user, issued.expires_at))
    return response


def form_errors(form) -> dict:
    return {
        field: [e["message"] for e in errs]
        for field, errs in form.errors.get_json_data().items()
    }


def registration_allowed(request: HttpRequest) -> bool:
    """Whether this client address may try one more sign-up now.

    Counted per address (as the login lock reads it) across every process:
    each attempt tells whether a name is taken, so unthrottled, sign-up
    would list the site's accounts.
    """
    per_hour = settings.REGISTRATIONS_PER_HOUR
    rate = Rate("register", per_hour / 3600, per_hour)
    return limits.allow_sync(rate, get_client_ip_address(request) or "unknown")


def _registration_refusal() -> str:
    return _("Too many sign-ups from your address. Try again in a few minutes.")


def _register(form: RegistrationForm) -> User | None:
    """Create the account, or add a field error when a concurrent sign-up won."""
    try:
        with transaction.atomic():
            return form.save()
    except IntegrityError:
        form.add_error("username", USERNAME_TAKEN)
        return None


# JSON API ----------------------------------------------------------------


@require_GET
@ensure_csrf_cookie
def csrf(request):
    """Set the ``csrftoken`` cookie that unsafe requests echo in ``X-CSRFToken``."""
    return HttpResponse(status=204)


@require_POST
def api_login(request):
    try:
        form = LoginForm(read_json(request))
    except BadJson as err:
        return bad_json(err)
    if not form.is_valid():
        return api_error(
            400,
            "invalid",
            _("Username and password are required."),
            fields=form_errors(form),
        )
    user = authenticate(
        request,
        username=form.cleaned_data["username"],
        password=form.cleaned_data["password"],
    )
    if getattr(request, "axes_locked_out", False):
        # AxesMiddleware replaces this answer with the 429 lockout answer.
        return api_error(429, "too_many_attempts", "")
    if user is None:
        return api_error(401, "invalid_credentials", _("Wrong username or password."))
    forgive_failed_attempts(request, user)
    return signed_in_json(request, user)


@require_POST
def api_register(request):
    if not registration_allowed(request):
        response = api_error(429, "too_many_attempts", _registration_refusal())
        response["Retry-After"] = str(REGISTRATION_RETRY_AFTER_SECONDS)
        return response
    try:
        form = RegistrationForm(read_json(request))
    except BadJson as err:
        return bad_json(err)
    user = _register(form) if form.is_valid() else None
    if user is None:
        return api_error(
            400,
            "invalid",
            _("Please correct the fields shown."),
            fields=form_errors(form),
        )
    return signed_in_json(request, user, status=201)


@require_POST
@token_required
def api_refresh(request):
    return signed_in_json(request, request.user)


@require_POST
@token_required
def api_logout(request):
    tokens.revoke(authenticate_request(request))
    response = HttpResponse(status=204)
    clear_token_cookie(response)
    return response


@require_POST
@token_required
def api_logout_all(request):
    tokens.revoke_all(request.user)
    response = HttpResponse(status=204)
    clear_token_cookie(response)
    return response


@require_GET
@token_required
def api_me(request):
    verified = authenticate_request(request)
    return JsonResponse(session_body(verified.user, verified.expires_at))


def login_locked_out(request, *args, **kwargs):
    """Axes' lockout answer: 429 with ``Retry-After``, as JSON or as the login page.

    Axes passes the original response and the credentials, in an order that
    differs between its sync and async paths; neither is needed here.
    """
    retry_after = int(settings.AXES_COOLOFF_TIME.total_seconds())
    detail = _(
        "Too many failed sign-in attempts. Try again in %(minutes)d minutes."
    ) % {"minutes": max(1, round(retry_after / 60))}
    if request.path.startswith("/api/"):
        response = api_error(429, "too_many_attempts", detail)
    else:
        form = LoginForm(request.POST)
        form.is_valid()
        form.add_error(None, detail)
        context = {"form": form, "next": _next_url(request)}
        response = render(request, "accounts/login.html", context, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def csrf_failure(request, reason=""):
    """CSRF refusals: JSON for the API, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return api_error(
            403,
            "csrf_failed",
            _("Missing or wrong CSRF token: send the csrftoken cookie in X-CSRFToken."),
        )
    return django_csrf_failure(request, reason=reason)


# Pages -------------------------------------------------------------------


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return "/support"


@require_http_methods(["GET", "POST"])
def login_page(request):
    if request.method == "GET":
        if authenticate_request(request) is not None:
            return HttpResponseRedirect(_next_url(request))
        context = {"form": LoginForm(), "next": _next_url(request)}
        return render(request, "accounts/login.html", context)
    form = LoginForm(request.POST)
    user = None
    if form.is_valid():
        user = authenticate(
            request,
            username=form.cleaned_data["username"],
            password=form.cleaned_data["password"],
        )
        if user is None and not getattr(request, "axes_locked_out", False):
            form.add_error(None, _("Wrong username or password."))
    if user is None:
        context = {"form": form, "next": _next_url(request)}
        return render(request, "accounts/login.html", context, status=401)
    forgive_failed_attempts(request, user)
    response = HttpResponseRedirect(_next_url(request))
    sign_in(request, user, response)
    return response


@require_http_methods(["GET", "POST"])
def register_page(request):
    form = RegistrationForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and not registration_allowed(request):
        form.is_valid()
        form.add_error(None, _registration_refusal())
        response = render(request, "accounts/register.html", {"form": form}, status=429)
        response["Retry-After"] = str(REGISTRATION_RETRY_AFTER_SECONDS)
        return response
    if request.method == "POST" and form.is_valid():
        user = _register(form)
        if user is not None:
            response = HttpResponseRedirect("/support")
            sign_in(request, user, response)
            return response
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/register.html", {"form": form}, status=status)


@require_POST
def logout_page(request):
    verified = authenticate_request(request)
    if verified is not None:
        tokens.revoke(verified)
    response = HttpResponseRedirect(settings.LOGIN_URL)
    clear_token_cookie(response)
    return response


def home_page(request):
    return render(request, "home.html")
