from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self) -> None:
        from . import alerts  # noqa: F401  (checks the usage alerts when a pull stored new usage)
