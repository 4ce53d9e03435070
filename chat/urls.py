from django.urls import path

from accounts import views as account_views
from chat import views

urlpatterns = [
    path("support", views.support_page, name="support"),
    path("api/me", account_views.api_me, name="api-me"),
    path("api/messages/mine", views.my_messages, name="api-my-messages"),
    path("api/messages", views.thread_messages, name="api-thread-messages"),
    path("api/conversations", views.conversations, name="api-conversations"),
    path(
        "api/conversations/<str:username>",
        views.conversation,
        name="api-conversation",
    ),
    path("api/admins", views.admins, name="api-admins"),
    path("api/canned-replies", views.canned_replies, name="api-canned-replies"),
]
