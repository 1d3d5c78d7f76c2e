"""The month-to-date bill estimate of an organization ("reserved balance" in the real console).

Computed when asked from the stored daily usage, so it is fresh after every usage pull, with the same
pricing function the monthly statement will use. Billing covers the whole organization (every project),
RTC usage (business "default") only.
"""

from dataclasses import dataclass
from datetime import date

from django.db.models import Sum
from django.utils import timezone

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


def month_seconds(organization, day_from: date, day_to: date) -> dict[str, int]:
    """Seconds per usage column over the days, for every project of the organization (one query)."""
    columns = list(DURATION_FIELDS.values())
    sums = DailyUsage.objects.filter(
        project__organization=organization, business=BILLED_BUSINESS, date__gte=day_from, date__lte=day_to
    ).aggregate(**{column: Sum(column) for column in columns})
    return {column: sums[column] or 0 for column in columns}


def month_to_date(organization, today: date | None = None) -> Estimate:
    today = today or timezone.now().date()
    month_start = today.replace(day=1)
    book = PriceBook.book_for(organization, month_start)
    priced = price_month(month_seconds(organization, month_start, today), book.prices())
    return Estimate(organization.pk, month_start, today, book, priced)
