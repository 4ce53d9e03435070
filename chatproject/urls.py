from django.contrib import admin
from django.urls import include, path

from accounts import views as account_views

urlpatterns = [
    path("", account_views.home_page, name="home"),
    path("login", account_views.login_page, name="login"),
    path("register", account_views.register_page, name="register"),
    path("logout", account_views.logout_page, name="logout"),
    path("admin/", admin.site.urls),
    path("api/auth/", include("accounts.urls")),
    path("", include("chat.urls")),
]
