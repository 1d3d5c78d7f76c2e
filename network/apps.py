from django.apps import AppConfig


class NetworkConfig(AppConfig):
    """What happens on the network: channels, the users (UIDs) in them, calls; learnt from Agora's signed
    webhooks (Notification Center Service)."""

    name = "network"
    verbose_name = "Channels and calls"

    def ready(self) -> None:
        from accounts import audit
        from console.navigation import register_project_tabs

        from . import alerts, kicking, pages, pulling, services, signals  # noqa: F401  (signals: cached notification settings retired on change)

        audit.register_actions(services.AUDIT_ACTIONS)
        audit.register_actions(alerts.AUDIT_ACTIONS)
        audit.register_actions(kicking.AUDIT_ACTIONS)
        audit.register_actions(pulling.AUDIT_ACTIONS)  # pulling also registers its run kinds with usage's reaper
        register_project_tabs(*pages.TABS)
