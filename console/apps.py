from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "console"

    def ready(self) -> None:
        # Connects the receivers that count pulls, month closes and refused sign-ins, in every process
        # (web and Celery workers alike), and registers the metrics before the first request.
        from . import metrics  # noqa: F401
