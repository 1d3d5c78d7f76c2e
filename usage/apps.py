from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "usage"

    def ready(self) -> None:
        from accounts import audit
        from console.overview_cards import OverviewCard, register

        from . import pulling, services, signals  # noqa: F401  (signals: sandbox upstream for new organizations)
        from .views import overview_card

        for module in (pulling, services):
            audit.register_actions(module.AUDIT_ACTIONS)
        register(OverviewCard("usage_card", "usage/includes/overview_card.html", "usage", overview_card))
