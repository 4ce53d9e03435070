"""The chat page and the history API (PROTOCOL.md section 2), on top of selectors."""

from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts.http_auth import (
    admin_required,
    api_error,
    login_required_page,
    token_required,
)
from accounts.models import User
from chat import selectors


class BadParameter(Exception):
    pass


def _id_param(request, name: str) -> int | None:
    raw = request.GET.get(name)
    if raw in (None, ""):
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise BadParameter(
            _("'%(name)s' must be a message id (a non-negative integer).")
            % {"name": name}
        )
    return int(raw)


def _limit_param(request) -> int:
    raw = request.GET.get("limit")
    if raw in (None, ""):
        return selectors.DEFAULT_PAGE_SIZE
    if not raw.isdigit() or not 1 <= int(raw) <= selectors.MAX_PAGE_SIZE:
        raise BadParameter(
            _("'limit' must be an integer from 1 to %(max)d.")
            % {"max": selectors.MAX_PAGE_SIZE}
        )
    return int(raw)


def _history_page(request, thread: User) -> JsonResponse:
    try:
        page = {
            "before": _id_param(request, "before"),
            "after": _id_param(request, "after"),
            "limit": _limit_param(request),
        }
    except BadParameter as err:
        return api_error(400, "invalid_parameter", str(err))
    messages, has_more = selectors.thread_history(thread=thread, **page)
    return JsonResponse({"messages": messages, "has_more": has_more})


@login_required_page
def support_page(request):
    return render(request, "chat/support.html")


@require_GET
@token_required
def my_messages(request):
    return _history_page(request, request.user)


@require_GET
@admin_required
def thread_messages(request):
    username = request.GET.get("with", "")
    if not username:
        return api_error(
            400, "missing_parameter", _("Name the user's thread: ?with=USERNAME.")
        )
    thread = User.objects.filter(username=username).first()
    if thread is None:
        return api_error(
            404,
            "unknown_user",
            _("There is no user named %(name)s.") % {"name": username},
        )
    return _history_page(request, thread)


@require_GET
@admin_required
def conversations(request):
    try:
        before = _id_param(request, "before")
        limit = _limit_param(request)
    except BadParameter as err:
        return api_error(400, "invalid_parameter", str(err))
    rows, has_more = selectors.conversation_list(
        admin=request.user, before=before, limit=limit
    )
    return JsonResponse({"conversations": rows, "has_more": has_more})
