from django.apps import AppConfig


class TokensConfig(AppConfig):
    name = "tokens"

    def ready(self) -> None:
        from accounts import audit

        from . import services

        audit.register_actions(services.AUDIT_ACTIONS)
