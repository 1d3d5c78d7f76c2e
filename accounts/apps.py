from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and organizations"

    def ready(self) -> None:
        from . import api_credentials, audit, signals  # noqa: F401  (signals: sign-in audit receivers)

        audit.register_actions(api_credentials.AUDIT_ACTIONS)
