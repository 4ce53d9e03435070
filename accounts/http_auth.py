"""HTTP authentication: the ``token`` cookie -> ``tokens.verify`` -> ``request.user``.

The original app's ``verifyToken``/``verifyAdmin``, as a middleware that
resolves the user lazily and decorators that answer 401/403 for the API or
redirect pages to the login form.
"""

import enum
from functools import wraps
from urllib.parse import urlencode

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils.cache import patch_cache_control
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext as _

from accounts import tokens
from chatproject.loopmiddleware import OnTheLoop

API_PATH_PREFIX = "/api/"


class AuthProblem(enum.Enum):
    """Why a request is not authenticated: the two answers the API tells apart."""

    NO_TOKEN = enum.auto()
    BAD_TOKEN = enum.auto()


def authenticate_request(request: HttpRequest) -> tokens.VerifiedToken | None:
    """Verify the request's token cookie once; remember the outcome on the request."""
    if not hasattr(request, "_token_outcome"):
        request._token_outcome = _verify_cookie(request.META.get("HTTP_COOKIE", ""))
    return request._token_outcome[0]


def _verify_cookie(header: str):
    try:
        raw = tokens.token_from_cookie_header(header)
        if raw is None:
            return None, AuthProblem.NO_TOKEN
        return tokens.verify(raw), None
    except tokens.InvalidToken:
        return None, AuthProblem.BAD_TOKEN


def token_problem(request: HttpRequest) -> AuthProblem | None:
    """Why the request is not authenticated, or None when it is."""
    authenticate_request(request)
    return request._token_outcome[1]


def _user_of(request: HttpRequest):
    verified = authenticate_request(request)
    return verified.user if verified else AnonymousUser()


class TokenAuthenticationMiddleware(OnTheLoop, AuthenticationMiddleware):
    """Sets ``request.user`` from the token cookie instead of the session.

    A subclass of Django's middleware so that the admin (and its system
    check) sees the authentication it expects; verification runs only when
    something reads ``request.user``, so setting it up does no I/O and runs
    on the event loop under ASGI (:class:`~chatproject.loopmiddleware.OnTheLoop`).
    """

    def process_request(self, request):
        request.user = SimpleLazyObject(lambda: _user_of(request))
        request.auser = sync_to_async(lambda: _user_of(request))


class PrivateAnswersMiddleware(OnTheLoop):
    """``Cache-Control: private, no-store`` on answers that depend on who is signed in.

    That is every API answer (sign-in and sign-up set the token cookie; the
    errors tell whether a token is valid), and any other answer for which
    the token was looked at (the chat page, the admin). No shared cache may
    keep them, and no browser may keep them on disk after a sign-out. It
    sits outside the CSRF, database and Axes middleware so that their
    refusals are covered too. Only sets a header: runs on the event loop.
    """

    def process_response(
        self, request: HttpRequest, response: HttpResponse
    ) -> HttpResponse:
        if request.path.startswith(API_PATH_PREFIX) or hasattr(
            request, "_token_outcome"
        ):
            patch_cache_control(response, private=True, no_store=True)
        return response


def api_error(status: int, code: str, detail: str, **extra) -> JsonResponse:
    """The API's error body, ``{"error": CODE, "detail": TEXT}``."""
    return JsonResponse({"error": code, "detail": detail, **extra}, status=status)


def _auth_failure(request: HttpRequest) -> JsonResponse | None:
    problem = token_problem(request)
    if problem is AuthProblem.NO_TOKEN:
        return api_error(401, "not_authenticated", _("Sign in first."))
    if problem is AuthProblem.BAD_TOKEN:
        return api_error(
            403, "invalid_token", _("Your session is no longer valid. Sign in again.")
        )
    return None


def token_required(view):
    """API views: 401 ``not_authenticated`` without a token, 403 ``invalid_token``."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        return _auth_failure(request) or view(request, *args, **kwargs)

    return wrapper


def admin_required(view):
    """Support-team API views: as :func:`token_required`, then 403 ``admin_only``."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        failure = _auth_failure(request)
        if failure:
            return failure
        if not request.user.is_support_admin:
            return api_error(403, "admin_only", _("Only the support team can do this."))
        return view(request, *args, **kwargs)

    return wrapper


def login_required_page(view):
    """Pages: anonymous visitors go to ``/login?next=<this page>``."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if authenticate_request(request) is None:
            query = urlencode({"next": request.get_full_path()})
            return HttpResponseRedirect(f"{settings.LOGIN_URL}?{query}")
        return view(request, *args, **kwargs)

    return wrapper
