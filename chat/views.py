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
from chat import selectors
from chat.dbthread import db_read


class BadParameter(Exception):
    """A query parameter is not what the endpoint takes: 400 ``invalid_parameter``."""


def _is_ascii_number(raw: str) -> bool:
    # str.isdigit() alone also accepts "²", "①" and Arabic-Indic digits,
    # which int() then refuses (a 500) or reads as a number nobody wrote.
    return raw.isascii() and raw.isdigit()


def _id_param(request, name: str) -> int | None:
    raw = request.GET.get(name)
    if raw in (None, ""):
        return None
    if not _is_ascii_number(raw) or len(raw) > 18:
        raise BadParameter(
            _("'%(name)s' must be a message id (a non-negative integer).")
            % {"name": name}
        )
    return int(raw)


def _limit_param(request) -> int:
    raw = request.GET.get("limit")
    if raw in (None, ""):
        return selectors.DEFAULT_PAGE_SIZE
    if not _is_ascii_number(raw) or not 1 <= int(raw) <= selectors.MAX_PAGE_SIZE:
        raise BadParameter(
            _("'limit' must be an integer from 1 to %(max)d.")
            % {"max": selectors.MAX_PAGE_SIZE}
        )
    return int(raw)


def _history_page(request, thread_id: int) -> JsonResponse:
    try:
        page = {
            "before": _id_param(request, "before"),
            "after": _id_param(request, "after"),
            "limit": _limit_param(request),
        }
    except BadParameter as err:
        return api_error(400, "invalid_parameter", str(err))
    messages, has_more = selectors.thread_history(thread_id=thread_id, **page)
    return JsonResponse({"messages": messages, "has_more": has_more})


@login_required_page
def support_page(request):
    """The chat page: a user's conversation with the team, or the team's inbox."""
    return render(request, "chat/support.html")


# The two history endpoints are async views whose whole body (the token
# check, the thread lookup, the page) runs in one call on the chat's read
# thread (chat.dbthread.db_read). A sync view under ASGI got a thread of
# its own per request, and with it a new database connection per request;
# the read thread keeps one persistent connection and costs one hop.


@token_required
def _my_messages(request):
    return _history_page(request, request.user.pk)


@require_GET
async def my_messages(request):
    """GET /api/messages/mine: a page of the caller's own thread."""
    return await db_read(_my_messages, request)


@admin_required
def _thread_messages(request):
    username = request.GET.get("with", "")
    if not username:
        return api_error(
            400, "missing_parameter", _("Name the user's thread: ?with=USERNAME.")
        )
    thread_id = selectors.user_id_of(username)
    if thread_id is None:
        return api_error(
            404,
            "unknown_user",
            _("There is no user named %(name)s.") % {"name": username},
        )
    return _history_page(request, thread_id)


@require_GET
async def thread_messages(request):
    """GET /api/messages?with=USER: a page of USER's thread (admins)."""
    return await db_read(_thread_messages, request)


@require_GET
@admin_required
def conversations(request):
    """GET /api/conversations: the inbox, newest first, with unread counts (admins)."""
    try:
        before = _id_param(request, "before")
        limit = _limit_param(request)
    except BadParameter as err:
        return api_error(400, "invalid_parameter", str(err))
    rows, has_more = selectors.conversation_list(
        admin=request.user, before=before, limit=limit
    )
    return JsonResponse({"conversations": rows, "has_more": has_more})


@require_GET
@admin_required
def canned_replies(request):
    """GET /api/canned-replies: the team's ready-made answers, by shortcut (admins)."""
    replies = selectors.canned_reply_list()
    return JsonResponse({"canned_replies": replies})
