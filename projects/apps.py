from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"

    def ready(self) -> None:
        from accounts import audit

        from . import services, signals  # noqa: F401  (signals: cache invalidation)

        audit.register_actions(services.AUDIT_ACTIONS)
