from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Support chat"

    def ready(self):
        from accounts.signals import sessions_ended
        from chat.presence import account_changed
        from chat.sessions import sessions_ended as close_ended_sessions

        sessions_ended.connect(close_ended_sessions, dispatch_uid="chat.sessions")
        sessions_ended.connect(account_changed, dispatch_uid="chat.presence")
