"""The month-to-date bill estimate of an organization ("reserved balance" in the real console).

Computed when asked from the stored daily usage, so it is fresh after every usage pull, with the same
pricing function the monthly statement will use. Billing covers the whole organization (every project),
RTC usage (business "default") only. Minutes come from `usage.minutes` (the one definition of billable
minutes), so the estimate, the usage page, alerts, statements and the APIs count the same minutes.
"""

from dataclasses import dataclass
from datetime import date

from django.db.models import Sum

from console.dates import utc_today
from usage.minutes import month_to_date_range, period_minutes
from usage.models import DURATION_FIELDS, DailyUsage

from .models import PriceBook
from .pricing import Priced, price_month

BILLED_BUSINESS = "default"


@dataclass(frozen=True)
class Estimate:
    organization_id: int
    day_from: date
    day_to: date
    book: PriceBook
    priced: Priced


def billed_usage(organization, day_from: date, day_to: date):
    """The DailyUsage rows billing counts: every project of the organization, RTC, these days (both included)."""
    return DailyUsage.objects.filter(
        project__organization=organization, business=BILLED_BUSINESS, date__gte=day_from, date__lte=day_to
    )


def billed_minutes(organization, day_from: date, day_to: date) -> dict[str, int]:
    """Billable minutes per tier over the days (one query): what a bill, an estimate and an alert count."""
    return period_minutes(billed_usage(organization, day_from, day_to))


def month_seconds(organization, day_from: date, day_to: date) -> dict[str, int]:
    """Seconds per usage column over the days (one query), kept on a statement as the record of its usage."""
    columns = list(DURATION_FIELDS.values())
    sums = billed_usage(organization, day_from, day_to).aggregate(**{column: Sum(column) for column in columns})
    return {column: sums[column] or 0 for column in columns}


def month_to_date(organization, today: date | None = None) -> Estimate:
    month_start, today = month_to_date_range(today or utc_today())
    book = PriceBook.book_for(organization, month_start)
    priced = price_month(billed_minutes(organization, month_start, today), book.prices())
    return Estimate(organization.pk, month_start, today, book, priced)


def current_estimate(organization, today: date | None = None) -> Estimate | None:
    """`month_to_date`, or None when no price book is in force (for callers that say so rather than fail)."""
    try:
        return month_to_date(organization, today)
    except PriceBook.DoesNotExist:
        return None
