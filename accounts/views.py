"""The accounts JSON API: sign in, sign up, refresh, sign out, who am I.

Views validate with the forms and go through ``accounts.signin``; nothing
here decodes a token. The HTML pages are ``accounts.pages``.
"""

import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.csrf import csrf_failure as django_csrf_failure
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST

from accounts import tokens
from accounts.forms import LoginForm, RegistrationForm
from accounts.http_auth import api_error, authenticate_request, token_required
from accounts.models import User
from accounts.pages import next_url
from accounts.signin import (
    REGISTRATION_RETRY_AFTER_SECONDS,
    clear_token_cookie,
    locked_out,
    register,
    registration_allowed,
    registration_refusal,
    session_body,
    sign_in,
    user_of_credentials,
)

MAX_JSON_BODY_BYTES = 64 * 1024


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


# JSON API ----------------------------------------------------------------


@require_GET
@ensure_csrf_cookie
def csrf(request):
    """Set the ``csrftoken`` cookie that unsafe requests echo in ``X-CSRFToken``."""
    return HttpResponse(status=204)


@require_POST
def api_login(request):
    """POST /api/auth/login: sign in; 401 for wrong credentials, 429 when locked."""
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
    user = user_of_credentials(request, form)
    if locked_out(request):
        # AxesMiddleware replaces this answer with the 429 lockout answer.
        return api_error(429, "too_many_attempts", "")
    if user is None:
        return api_error(401, "invalid_credentials", _("Wrong username or password."))
    return signed_in_json(request, user)


@require_POST
def api_register(request):
    """POST /api/auth/register: a new account (always a user), signed in at once."""
    if not registration_allowed(request):
        response = api_error(429, "too_many_attempts", registration_refusal())
        response["Retry-After"] = str(REGISTRATION_RETRY_AFTER_SECONDS)
        return response
    try:
        form = RegistrationForm(read_json(request))
    except BadJson as err:
        return bad_json(err)
    user = register(form) if form.is_valid() else None
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
    """POST /api/auth/refresh: a new token for the signed-in user."""
    return signed_in_json(request, request.user)


def _signed_out() -> HttpResponse:
    """204 with the cookie cleared: what both sign-outs answer."""
    response = HttpResponse(status=204)
    clear_token_cookie(response)
    return response


@require_POST
@token_required
def api_logout(request):
    """POST /api/auth/logout: sign out this token; its sockets close 4005."""
    tokens.revoke(authenticate_request(request))
    return _signed_out()


@require_POST
@token_required
def api_logout_all(request):
    """POST /api/auth/logout-all: sign out every token of this user."""
    tokens.revoke_all(request.user)
    return _signed_out()


@require_GET
@token_required
def api_me(request):
    """GET /api/me: who is signed in, and until when."""
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
        context = {"form": form, "next": next_url(request)}
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
