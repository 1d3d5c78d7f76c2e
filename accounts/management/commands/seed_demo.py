from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Membership, Organization, User
from accounts.services import create_organization, ensure_builtin_roles
from projects.models import Project

DEMO_PASSWORD = "console-demo"
DEMO_USERS = (
    # email, name, built-in role
    ("admin@acme.test", "Ada Admin", "admin"),
    ("finance@acme.test", "Fiona Finance", "finance"),
    ("ops@acme.test", "Otto Operations", "product_operation"),
    ("support@acme.test", "Sam Support", "cs_maintenance"),
    ("engineer@acme.test", "Erin Engineer", "engineer"),
)
DEMO_PROJECTS = ("Acme Meetings", "Acme Live Classes", "Acme Support Calls")


class Command(BaseCommand):
    help = (
        'Create the demo organization "Acme" with one user per built-in role (password '
        f"{DEMO_PASSWORD!r}) and a few projects. Safe to run again. Refuses to run when DEBUG is false."
    )

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("seed_demo only runs with DEBUG=true: it creates accounts with a known password.")
        with transaction.atomic():
            organization = self.seed()
        self.stdout.write(self.style.SUCCESS(f"Demo organization {organization.name!r} is ready."))
        for email, _, role in DEMO_USERS:
            self.stdout.write(f"  {email:<22} {role:<18} password: {DEMO_PASSWORD}")

    def seed(self) -> Organization:
        users = {}
        for email, name, _ in DEMO_USERS:
            user, _ = User.objects.get_or_create(email=email, defaults={"name": name})
            user.set_password(DEMO_PASSWORD)
            user.save()
            users[email] = user
        owner = users["admin@acme.test"]
        organization = Organization.objects.filter(slug="acme").first()
        if organization is None:
            organization = create_organization(owner, "Acme")
            Organization.objects.filter(pk=organization.pk).update(slug="acme")
            organization.refresh_from_db()
        roles = ensure_builtin_roles(organization)
        for email, _, role_key in DEMO_USERS:
            Membership.objects.update_or_create(
                user=users[email], organization=organization, defaults={"role": roles[role_key]}
            )
        for name in DEMO_PROJECTS:
            Project.objects.get_or_create(organization=organization, name=name)
        return organization
