from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from accounts import account_page, pages
from chat.metrics import metrics_view
from chatproject import health
from notifications.views import unsubscribe

urlpatterns = [
    path("", pages.home_page, name="home"),
    path("login", pages.login_page, name="login"),
    path("register", pages.register_page, name="register"),
    path("logout", pages.logout_page, name="logout"),
    path("account", account_page.account_page, name="account"),
    path("account/verify/<str:token>", account_page.verify_page, name="account-verify"),
    path("admin/", admin.site.urls),
    path("unsubscribe/<str:token>", unsubscribe, name="unsubscribe"),
    # Answered by chatproject.health.LivenessMiddleware before the middleware
    # that could make it wait; the route keeps the URL reversible.
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("api/auth/", include("accounts.urls")),
    # The language switcher posts to set_language, which remembers the choice
    # in the language cookie (and, for a signed-in person, for their emails:
    # Django's view wrapped, at the path its name reverses to); the page
    # scripts read their strings from jsi18n.
    path("i18n/setlang/", pages.set_language),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("", include("chat.urls")),
]
