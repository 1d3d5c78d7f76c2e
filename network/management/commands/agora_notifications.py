"""`manage.py agora_notifications`: a project's receiving end for Agora's notifications (webhooks).

    agora_notifications show PROJECT_ID      the receiving path, whether it is enabled, the event types
    agora_notifications enable PROJECT_ID    create (with a new secret) or re-enable, and print the secret
    agora_notifications rotate PROJECT_ID    a new secret, printed; the old one stops verifying at once
    agora_notifications disable PROJECT_ID   notifications are answered 404 until enabled again

The secret is what Agora's console shows against the product on the project's Notifications page: enter
the one printed here there (or the other way round), and the receiving URL https://<this host>/webhooks/agora/
<PROJECT_ID>/. Exit status 1 with a message for an unknown project.
"""

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse
from django.utils import timezone

from network import ncs
from network.models import NotificationSettings, new_secret
from projects.models import Project

ACTIONS = ("show", "enable", "rotate", "disable")


class Command(BaseCommand):
    help = "Show, enable, rotate the secret of, or disable a project's Agora notifications (webhooks)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=ACTIONS)
        parser.add_argument("project_id", help="The project's short ID (as in the console and the API).")

    def handle(self, *args: object, **options: str) -> None:
        project = Project.objects.filter(project_id=options["project_id"].strip()).first()
        if project is None:
            raise CommandError(f"No project with the id {options['project_id'][:40]!r}.")
        receiving = NotificationSettings.objects.filter(project=project).first()
        action = options["action"]
        if action == "show":
            if receiving is None:
                raise CommandError(f"Project {project.project_id} does not receive notifications: run enable.")
        elif action == "enable":
            receiving = receiving or NotificationSettings(project=project)
            receiving.enabled = True
        elif receiving is None:
            raise CommandError(f"Project {project.project_id} does not receive notifications: run enable first.")
        elif action == "rotate":
            receiving.secret = new_secret()
        else:
            receiving.enabled = False
        if action != "show":
            receiving.updated_at = timezone.now()
            receiving.save()
        self._print(receiving, with_secret=action in ("enable", "rotate"))

    def _print(self, receiving: NotificationSettings, *, with_secret: bool) -> None:
        path = reverse("network:agora_notification", args=[receiving.project.project_id])
        events = ", ".join(f"{code} {ncs.EVENT_NAMES.get(code, '')}".strip() for code in receiving.event_types)
        self.stdout.write(f"receiving path: {path}")
        self.stdout.write(f"enabled: {'yes' if receiving.enabled else 'no'}")
        self.stdout.write(f"event types: {events}")
        if with_secret:
            self.stdout.write(f"secret: {receiving.secret}")
