"""Unsubscribing in one click, without signing in (RFC 8058).

The link in every email (and its ``List-Unsubscribe`` header) holds a signed
token naming the person and the kind of email. Following it (GET) turns that
kind off and says so, with a button to turn it back on; a mail client's
one-click POST (``List-Unsubscribe=One-Click``) turns it off too. The token
is the permission, so no CSRF token is asked for: a forged request would
need the token, and then could do no more than its owner's link.
"""

from django.http import HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from accounts.models import User
from notifications.links import unsubscribe_target
from notifications.models import Notification

# Which setting each kind of email follows.
SETTING_OF_KIND = {
    Notification.Kind.REPLY: "notify_replies",
    Notification.Kind.NEW: "notify_new_conversations",
}


@csrf_exempt
def unsubscribe(request, token: str):
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    target = unsubscribe_target(token)
    field = SETTING_OF_KIND.get(target[1]) if target else None
    user = User.objects.filter(pk=target[0]).first() if field else None
    if user is None:
        return render(
            request, "notifications/unsubscribe.html", {"invalid": True}, status=404
        )
    resubscribe = request.method == "POST" and request.POST.get("resubscribe") == "1"
    User.objects.filter(pk=user.pk).update(**{field: resubscribe})
    if request.method == "POST" and "List-Unsubscribe" in request.POST:
        # A mail client's one-click request: no page to show.
        return HttpResponse(status=200)
    context = {"kind": target[1], "subscribed": resubscribe, "token": token}
    return render(request, "notifications/unsubscribe.html", context)
