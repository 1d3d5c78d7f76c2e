import random
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import Membership, Organization, User
from accounts.services import create_organization, ensure_builtin_roles
from billing import ledger
from billing.closing import close_month
from billing.models import Statement, Transaction
from console.dates import next_month, previous_month, utc_today
from network import pulling as network_pulling
from network import sandbox_traffic
from network import services as network_services
from network.models import SandboxCall
from projects import services as project_services
from projects.models import Project
from usage.client import UpstreamClient
from usage.local_sandbox import local_sandbox
from usage.models import PullRun, Upstream
from usage.pulling import create_run, execute_run

DEMO_PASSWORD = "console-demo"
DEMO_USAGE_DAYS = 90
DEMO_ISSUE_HOUR = 2  # a month's statement is issued at 02:00 UTC on the 1st of the month after it
DEMO_PAID_BEFORE_DUE = timedelta(days=3)  # the demo customer pays by bank transfer a few days early
DEMO_USERS = (
    # email, name, built-in role
    ("admin@acme.test", "Ada Admin", "admin"),
    ("finance@acme.test", "Fiona Finance", "finance"),
    ("ops@acme.test", "Otto Operations", "product_operation"),
    ("support@acme.test", "Sam Support", "cs_maintenance"),
    ("engineer@acme.test", "Erin Engineer", "engineer"),
)
# name, authentication mechanism, whether a rotation is under way (secondary enabled)
DEMO_PROJECTS = (
    ("Acme Meetings", Project.Mechanism.SECURED, False),
    ("Acme Live Classes", Project.Mechanism.APP_ID, False),
    ("Acme Support Calls", Project.Mechanism.SECURED, True),
)
# Channel traffic the sandbox network plays on each demo project: minutes ending now, users, kinds of channel.
DEMO_TRAFFIC = {
    "Acme Meetings": (180, 26, {"meeting": 85, "one_to_one": 15}),
    "Acme Live Classes": (180, 32, {"live": 80, "meeting": 20}),
    "Acme Support Calls": (180, 14, {"one_to_one": 80, "meeting": 20}),
}
DEMO_TRAFFIC_FRESH = timedelta(hours=2)  # a project with a call started this recently keeps its traffic


class Command(BaseCommand):
    help = (
        'Create the demo organization "Acme" with one user per built-in role (password '
        f"{DEMO_PASSWORD!r}) and three projects (App ID only, Secured, mid-rotation). Safe to run again. "
        "Refuses to run when DEBUG is false."
    )

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("seed_demo only runs with DEBUG=true: it creates accounts with a known password.")
        with transaction.atomic():
            organization = self.seed()
        self.pull_usage(organization)
        self.bill(organization)
        self.start_traffic(organization)
        self.stdout.write(self.style.SUCCESS(f"Demo organization {organization.name!r} is ready."))
        for email, _, role in DEMO_USERS:
            self.stdout.write(f"  {email:<22} {role:<18} password: {DEMO_PASSWORD}")

    def seed(self) -> Organization:
        users = {}
        for email, name, _ in DEMO_USERS:
            user, _ = User.objects.get_or_create(email=email, defaults={"name": name})
            user.set_password(DEMO_PASSWORD)
            user.save()
            User.objects.vouch_for_address(user)  # demo accounts sign in without an emailed link
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
        if not Upstream.objects.filter(organization=organization).exists():
            Upstream.new_sandbox(organization).save()
        admin = Membership.objects.get(organization=organization, user=owner)
        for name, mechanism, mid_rotation in DEMO_PROJECTS:
            if Project.objects.filter(organization=organization, name=name).exists():
                continue
            project = project_services.create_project(admin, name=name, mechanism=mechanism)
            if mid_rotation:
                project_services.enable_secondary(admin, project)
        return organization

    def pull_usage(self, organization) -> None:
        """90 days of usage from the sandbox, over real HTTP, through the same code as the Celery jobs."""
        upstream = organization.upstream
        today = utc_today()
        run = create_run(organization, today - timedelta(days=DEMO_USAGE_DAYS - 1), today, trigger=PullRun.Trigger.DEMO)
        with local_sandbox() as sandbox_url:
            client = UpstreamClient(sandbox_url, upstream.customer_id, upstream.customer_secret)
            run = execute_run(run, client=client)
        if run.status != PullRun.Status.SUCCEEDED:
            raise CommandError(f"Pulling demo usage from the sandbox failed: {run.error}")
        self.stdout.write(f"Pulled {DEMO_USAGE_DAYS} days of usage from the sandbox: {run.rows_written} rows.")

    def start_traffic(self, organization) -> None:
        """Notifications on for every demo project, and a few hours of traffic on its channels played by the
        sandbox network, its webhooks delivered to the console over HTTP: ended calls of varied quality, a
        few refused joins, and live channels with hosts and audience. A project with recent traffic is left
        as it is, so seeding again adds nothing."""
        since = timezone.now() - DEMO_TRAFFIC_FRESH
        admin = Membership.objects.get(organization=organization, user=organization.owner)
        with local_sandbox() as sandbox_url:
            for project in organization.projects.filter(name__in=DEMO_TRAFFIC).order_by("name"):
                network_services.enable(admin, project)
                if SandboxCall.objects.filter(project=project, started_at__gte=since).exists():
                    continue
                minutes, users, mix = DEMO_TRAFFIC[project.name]
                console_url = sandbox_url.removesuffix("/sandbox")
                draw = random.Random(f"demo traffic of {project.name}")  # the same story each time
                report, delivery = sandbox_traffic.run(
                    project, minutes=minutes, users=users, mix=mix, console_url=console_url, draw=draw
                )
                sent = delivery.sent if delivery else 0
                self.stdout.write(
                    f"Traffic on {project.name}: {report.calls} calls, {report.sessions} sessions, "
                    f"{report.refused} refused joins, {report.online_users} users online now; {sent} notifications."
                )
            self.pull_network(organization, sandbox_url)

    def pull_network(self, organization, sandbox_url: str) -> None:
        """Who is online and the calls with their users and metrics, pulled from the sandbox through the same
        code as the Celery jobs, so that the call inspector has Agora's ids, sessions and charts at once."""
        upstream = organization.upstream
        for kind in network_pulling.KINDS:
            run = network_pulling.create_run(organization, kind, trigger=PullRun.Trigger.DEMO)
            client = UpstreamClient(sandbox_url, upstream.customer_id, upstream.customer_secret)
            run = network_pulling.execute(run, client=client)
            self.stdout.write(f"Pulled {run.get_kind_display().lower()} from the sandbox: {run.get_status_display()}.")

    def bill(self, organization) -> None:
        """The last two finished months' statements, each issued when the month close would have issued it,
        and the demo customer's bank transfers. A statement is paid once its grace days are over, as a
        customer in good standing would have paid it (a suspended demo could not issue tokens): the older
        one always, the latest one only from its due date + 5 days, the day it would suspend the
        organization; until then it stays open with its amount due. No top-up: the balance is what the
        statements and payments make it."""
        now = timezone.now()
        last_month = previous_month(now.date())
        months = (previous_month(last_month), last_month)
        for month in months:
            close_month(month, organization, issued_at=issue_time(month, now))
        for statement in organization.statements.filter(month__in=months).order_by("month"):
            if now.date() >= statement.due_date + timedelta(days=ledger.GRACE_DAYS):
                pay_demo_statement(organization, statement, now.date())
        ledger.deduct_due_statements()
        balance = ledger.standing(organization).balance
        self.stdout.write(f"Billing: {organization.statements.count()} statements; balance {balance} USD.")


def issue_time(month: date, now: datetime) -> datetime:
    """02:00 UTC on the 1st of the month after `month`, or `now` when that is still to come."""
    first = next_month(month)
    return min(datetime.combine(first, time(DEMO_ISSUE_HOUR), tzinfo=UTC), now)


def pay_demo_statement(organization, statement: Statement, today: date) -> None:
    """A bank transfer of the statement's total a few days before its due date (never before its issue day
    or after today), once: the reference names the statement, so seeding again finds it."""
    reference = f"DEMO-{statement.number}"
    if statement.total <= 0 or Transaction.objects.filter(organization=organization, reference=reference).exists():
        return
    issued_on = statement.issued_at.astimezone(UTC).date()
    ledger.record_payment(
        Membership.objects.get(organization=organization, user__email="finance@acme.test"),
        amount=statement.total,
        method=Transaction.Method.BANK_TRANSFER,
        reference=reference,
        occurred_on=max(issued_on, min(statement.due_date - DEMO_PAID_BEFORE_DUE, today)),
    )
