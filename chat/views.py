"""The chat page, the history API and the desk's API (PROTOCOL.md 2 and 4)."""

import logging

from asgiref.sync import async_to_sync
from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts.http_auth import (
    admin_required,
    api_error,
    login_required_page,
    token_required,
)
from accounts.views import BadJson, bad_json, read_json
from chat import assignment, inbox, selectors, services
from chat.dbthread import db_read
from chat.frames import ChatError

logger = logging.getLogger(__name__)


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
    messages, has_more = selectors.thread_history(
        viewer=request.user, thread_id=thread_id, **page
    )
    body = {"messages": messages, "has_more": has_more}
    # PROTOCOL.md 2: the other side's read mark, for "Seen" from the first load.
    if request.user.is_support_admin:
        body["user_seen_up_to"] = selectors.read_mark(thread_id, customer=True)
    else:
        body["seen_up_to"] = selectors.read_mark(thread_id, customer=False)
    return JsonResponse(body)


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


def _choice(request, name: str, choices: dict[str, object]):
    raw = request.GET.get(name, "")
    if raw not in choices:
        raise BadParameter(
            _("'%(name)s' must be one of: %(choices)s.")
            % {"name": name, "choices": ", ".join(c for c in choices if c)}
        )
    return choices[raw]


def _filters(request) -> inbox.Filters | None:
    """The inbox filters asked for; None when they can match nothing (an
    assignee who does not exist). Raises BadParameter."""
    status = _choice(
        request,
        "status",
        {"": None, "all": None, "open": "open", "resolved": "resolved"},
    )
    needs_reply = _choice(
        request,
        "needs_reply",
        {"": None, "1": True, "true": True, "0": False, "false": False},
    )
    assignee = request.GET.get("assignee", "")
    if assignee == "none":
        return inbox.Filters(status=status, unassigned=True, needs_reply=needs_reply)
    assignee_id = selectors.user_id_of(assignee) if assignee else None
    if assignee and assignee_id is None:
        return None
    return inbox.Filters(status=status, assignee=assignee_id, needs_reply=needs_reply)


@require_GET
@admin_required
def conversations(request):
    """GET /api/conversations: the inbox, filtered, searched, paged (admins)."""
    try:
        filters = _filters(request)
        order = _choice(
            request,
            "order",
            {"": inbox.RECENT, "recent": inbox.RECENT, "waiting": inbox.WAITING},
        )
        before = _id_param(request, "before")
        limit = _limit_param(request)
        cursor = request.GET.get("cursor") or None
        after_waiting = inbox.waiting_cursor(cursor) if cursor else None
    except ValueError:
        return api_error(
            400, "invalid_parameter", _("'cursor' must be a next_cursor as given.")
        )
    except BadParameter as err:
        return api_error(400, "invalid_parameter", str(err))
    query = request.GET.get("q", "").strip()
    next_cursor = next_before = None
    if filters is None:
        rows, has_more = [], False
    elif query:
        rows, has_more, next_before = inbox.conversation_search(
            admin=request.user, query=query, filters=filters, before=before, limit=limit
        )
    else:
        rows, has_more, next_cursor = inbox.conversation_list(
            admin=request.user,
            filters=filters,
            order=order,
            before=before,
            after_waiting=after_waiting,
            limit=limit,
        )
    body = {"conversations": rows, "has_more": has_more}
    if query:
        # A thread's place in a search is not always visible in its row
        # (a name match that also shows a matching message): the server
        # says where the next page starts.
        body["next_before"] = next_before
    elif order == inbox.WAITING:
        body["next_cursor"] = next_cursor
    return JsonResponse(body)


def _announce(conversation) -> None:
    try:
        async_to_sync(services.conversation_announce)(conversation)
    except Exception:
        # The change is stored, and the next page load shows it; the
        # team's sockets miss this one frame.
        logger.exception("could not announce a conversation change")


@require_http_methods(["GET", "PATCH"])
@admin_required
def conversation(request, username: str):
    """GET and PATCH /api/conversations/USER: one conversation, and the team's
    changes to it (status, assignee; PROTOCOL.md 4)."""
    try:
        if request.method == "GET":
            user_id = assignment.customer_id_of(username)
            return JsonResponse(inbox.conversation_of(user_id, admin=request.user))
        change = assignment.change_of(read_json(request))
        row, changed = assignment.conversation_change(
            admin=request.user, username=username, change=change
        )
    except BadJson as err:
        return bad_json(err)
    except assignment.Conflict as conflict:
        owner = conflict.conversation["assignee_name"]
        detail = (
            _("%(name)s is handling this conversation now.") % {"name": owner}
            if owner
            else _("Nobody is handling this conversation now.")
        )
        return api_error(409, "conflict", detail, conversation=conflict.conversation)
    except ChatError as err:
        status = 404 if err.code == "unknown_user" else 400
        return api_error(status, err.code, str(err.detail))
    if changed:
        transaction.on_commit(lambda: _announce(row))
    return JsonResponse(row)


@require_GET
@admin_required
def admins(request):
    """GET /api/admins: the support team, for the assignee picker (admins)."""
    return JsonResponse({"admins": inbox.admin_list()})


@require_GET
@admin_required
def canned_replies(request):
    """GET /api/canned-replies: the team's ready-made answers, by shortcut (admins)."""
    replies = selectors.canned_reply_list()
    return JsonResponse({"canned_replies": replies})
