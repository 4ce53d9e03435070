"""The Django admin, behind the site's own sign-in.

The admin reads ``request.user`` like any page, and that user comes from the
token cookie, so signing in and out happen on the site's pages: one set of
auth rules, one lockout, one revocation path.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib.admin import AdminSite
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


class ChatAdminSite(AdminSite):
    site_header = _("Support chat administration")
    site_title = _("Support chat admin")

    def login(self, request, extra_context=None):
        """Send visitors to the site's sign-in page; refuse signed-in non-staff.

        A signed-in user without admin access must not be sent to ``/login``:
        that page sends signed-in users on to ``next``, the admin again, and
        the browser would loop between the two.
        """
        if request.user.is_authenticated:
            if self.has_permission(request):
                return HttpResponseRedirect(
                    reverse("admin:index", current_app=self.name)
                )
            raise PermissionDenied(_("Your account has no access to the admin."))
        target = request.GET.get("next") or request.path
        return HttpResponseRedirect(
            f"{settings.LOGIN_URL}?{urlencode({'next': target})}"
        )

    def logout(self, request, extra_context=None):
        from accounts.pages import logout_page

        return logout_page(request)
