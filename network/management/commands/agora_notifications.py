"""`manage.py agora_notifications`: a project's receiving end for Agora's notifications (webhooks).

    agora_notifications show PROJECT_ID      the receiving path, whether it is enabled, the event types
    agora_notifications enable PROJECT_ID    create (with a new secret) or re-enable, and print the secret
    agora_notifications rotate PROJECT_ID    a new secret, printed; the old one stops verifying at once
    agora_notifications disable PROJECT_ID   notifications are answered 404 until enabled again

`--as EMAIL` acts as that member of the project's organization (the audit log names them); without it the
entries name the system. In Agora's console, on the project's Notifications page, enter the secret printed
here and the receiving URL https://<this host>/webhooks/agora/<PROJECT_ID>/. Exit status 1 with a message
for an unknown project, a project that does not receive notifications (show, rotate, disable) or an email
that is not a member's.
"""

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse

from accounts.models import Membership
from console.refusals import RuleViolation
from network import ncs, services
from network.models import NotificationSettings
from projects.models import Project

CHANGES = {"enable": services.enable, "rotate": services.rotate_secret, "disable": services.disable}

ACTIONS = ("show", "enable", "rotate", "disable")


class Command(BaseCommand):
    help = "Show, enable, rotate the secret of, or disable a project's Agora notifications (webhooks)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=ACTIONS)
        parser.add_argument("project_id", help="The project's short ID (as in the console and the API).")
        parser.add_argument("--as", metavar="EMAIL", help="act as this member of the project's organization")

    def handle(self, *args: object, **options: str) -> None:
        project = (
            Project.objects.select_related("organization").filter(project_id=options["project_id"].strip()).first()
        )
        if project is None:
            raise CommandError(f"No project with the id {options['project_id'][:40]!r}.")
        actor = self._actor(project, options.get("as"))
        action = options["action"]
        if action == "show":
            receiving = NotificationSettings.objects.filter(project=project).first()
            if receiving is None:
                raise CommandError(f"Project {project.project_id} does not receive notifications: run enable.")
        else:
            try:
                receiving = CHANGES[action](actor, project)
            except RuleViolation as refusal:
                raise CommandError(str(refusal)) from None
        self._print(receiving, with_secret=action in ("enable", "rotate"))

    @staticmethod
    def _actor(project: Project, email: str | None) -> Membership | None:
        if not email:
            return None
        member = (
            Membership.objects.select_related("user", "role")
            .filter(organization=project.organization, user__email__iexact=email.strip())
            .first()
        )
        if member is None:
            raise CommandError(f"{email[:80]} is not a member of {project.organization.name}.")
        return member

    def _print(self, receiving: NotificationSettings, *, with_secret: bool) -> None:
        path = reverse("network:agora_notification", args=[receiving.project.project_id])
        events = ", ".join(f"{code} {ncs.EVENT_NAMES.get(code, '')}".strip() for code in receiving.event_types)
        self.stdout.write(f"receiving path: {path}")
        self.stdout.write(f"enabled: {'yes' if receiving.enabled else 'no'}")
        self.stdout.write(f"event types: {events}")
        if with_secret:
            self.stdout.write(f"secret: {receiving.secret}")
