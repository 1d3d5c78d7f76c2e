from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "usage"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (sandbox upstream for new organizations)
