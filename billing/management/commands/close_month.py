from datetime import date

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Organization
from billing.closing import close_month
from billing.ledger import deduct_due_statements


def _month(value: str) -> date:
    try:
        return date.fromisoformat(f"{value}-01")
    except ValueError:
        raise CommandError(f"{value!r} is not a month in the form YYYY-MM.") from None


class Command(BaseCommand):
    help = (
        "Issue a finished month's statements by hand, with the same code as the job on the 1st. Safe to run "
        "again: organizations that already have the month's statement are skipped. Statements already due "
        "are then deducted from the balance.\nExample: manage.py close_month --month 2026-10 --org acme"
    )

    def add_arguments(self, parser):
        parser.add_argument("--month", required=True, metavar="YYYY-MM", help="The month to close (UTC).")
        parser.add_argument("--org", metavar="SLUG", help="Only this organization (default: every one).")

    def handle(self, *args, month, org, **options):
        month_start = _month(month)
        organization = None
        if org:
            organization = Organization.objects.filter(slug=org).first()
            if organization is None:
                raise CommandError(f"No organization with the slug {org!r}.")
        try:
            issued = close_month(month_start, organization)
        except ValueError as error:
            raise CommandError(str(error)) from None
        for statement in issued:
            self.stdout.write(
                f"{statement.organization.slug}: {statement.number} {statement.currency} {statement.total}"
                f" due {statement.due_date:%Y-%m-%d}"
            )
        deducted = deduct_due_statements()
        self.stdout.write(
            f"Issued {len(issued)} statement{'s' if len(issued) != 1 else ''} for {month_start:%Y-%m}"
            f"{'' if issued else ' (nothing new to issue)'}; {deducted} due statement(s) deducted."
        )
