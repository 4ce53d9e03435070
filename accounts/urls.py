from django.urls import path

from accounts import views

urlpatterns = [
    path("csrf", views.csrf, name="api-csrf"),
    path("login", views.api_login, name="api-login"),
    path("register", views.api_register, name="api-register"),
    path("refresh", views.api_refresh, name="api-refresh"),
    path("logout", views.api_logout, name="api-logout"),
    path("logout-all", views.api_logout_all, name="api-logout-all"),
]
