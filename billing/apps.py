from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self) -> None:
        from accounts import audit
        from console.overview_cards import OverviewCard, register

        from . import alerts, closing, ledger, services  # alerts: checks them when a pull stored new usage
        from .views import overview_card

        for module in (alerts, closing, ledger, services):
            audit.register_actions(module.AUDIT_ACTIONS)
        register(OverviewCard("billing_card", "billing/includes/overview_card.html", "billing", overview_card))
