"""The month close: each organization's statement for a finished month, issued once.

`close_month` is idempotent: an organization that already has the month's statement is skipped, so
running it twice (beat on the 1st, then `manage.py close_month` by hand) issues nothing new. Each
statement is written in one transaction under the organization's row lock, which also keeps the
invoice sequence gapless.

Late usage: usage of an already-billed month that arrives after its statement was issued is never written
into that statement. The next statement carries one adjustment line per such month: the month priced
again from today's usage with the price book of its own statement, minus everything billed for that month
so far (its statement and earlier adjustments). Usage corrected downwards gives a negative adjustment.

Decisions: an organization with no usage in the month and nothing to adjust gets no statement (a zero
statement is still issued when there was usage under the free minutes). Months before the first
statement of an organization are not billed retroactively.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Max, Sum
from django.utils import timezone

from accounts import audit
from accounts.models import Organization
from console.dates import month_end, next_month, utc_today

from .estimate import billed_minutes, billed_usage, month_seconds
from .models import BillingProfile, PriceBook, Statement, StatementLine, bill_to_lines, invoice_number
from .pricing import price_month, to_cents

# Registered with accounts.audit when the app starts (apps.py).
AUDIT_ACTIONS = {"billing.statement_issued": "Statement issued"}

DUE_DAY = 6  # statements are deducted from the balance on the 6th of the month after the billed one


@dataclass(frozen=True)
class Adjustment:
    usage_month: date
    amount: Decimal


def due_date_for(month_start: date, issued_on: date | None = None) -> date:
    """The 6th of the month after the billed one. A statement is never due before it is issued: one issued
    after that day (a close that ran late) is due as many days after its issue as the 6th is after the 1st."""
    regular = next_month(month_start).replace(day=DUE_DAY)
    if issued_on is not None and issued_on > regular:
        return issued_on + timedelta(days=DUE_DAY - 1)
    return regular


def check_closable(month_start: date, today: date | None = None) -> None:
    """ValueError unless `month_start` is the first day of a month that has ended (UTC)."""
    today = today or utc_today()
    if month_start.day != 1:
        raise ValueError("a billing month starts on the 1st")
    if month_end(month_start) >= today:
        raise ValueError(f"{month_start:%Y-%m} has not ended yet; it can be closed from the 1st of the next month")


def late_usage_adjustments(organization: Organization, before_month: date) -> list[Adjustment]:
    """For each month billed before `before_month` whose usage was pulled again after its statement was
    issued: what its usage costs now minus what was billed for it. A month nothing was pulled for since is
    left alone, so an old statement is never re-priced for anything but new usage data."""
    billed = defaultdict(Decimal)
    rows = (
        StatementLine.objects.filter(statement__organization=organization, usage_month__lt=before_month)
        .values("usage_month")
        .annotate(amount=Sum("amount"))
    )
    for row in rows:
        billed[row["usage_month"]] = row["amount"]
    billed_statements = Statement.objects.filter(organization=organization, month__in=list(billed))
    statements = {statement.month: statement for statement in billed_statements.select_related("price_book")}
    adjustments = []
    for month in sorted(billed):
        statement = statements[month]
        usage = billed_usage(organization, month, month_end(month))
        if not usage.filter(pulled_at__gt=statement.issued_at).exists():
            continue
        book = statement.price_book
        now_total = price_month(billed_minutes(organization, month, month_end(month)), book.prices()).total
        difference = to_cents(now_total - billed[month])  # a database's SUM may come back with more digits
        if difference:
            adjustments.append(Adjustment(month, difference))
    return adjustments


def close_month(
    month_start: date,
    organization: Organization | None = None,
    today: date | None = None,
    *,
    issued_at: datetime | None = None,
) -> list[Statement]:
    """Issue `month_start`'s statement for one organization or all, dated `issued_at` (default: now, or the
    start of `today` when a close is run as of an earlier day). Returns the statements issued now."""
    check_closable(month_start, today)
    organizations = [organization] if organization else Organization.objects.order_by("pk")
    issued = []
    for each in organizations:
        statement = close_organization_month(each, month_start, today, issued_at=issued_at)
        if statement is not None:
            issued.append(statement)
    return issued


@transaction.atomic
def close_organization_month(
    organization: Organization, month_start: date, today: date | None = None, *, issued_at: datetime | None = None
) -> Statement | None:
    check_closable(month_start, today)
    if issued_at is not None and issued_at.astimezone(UTC).date() <= month_end(month_start):
        raise ValueError(f"the statement for {month_start:%Y-%m} cannot be issued before the month has ended")
    if issued_at is None:  # now; a close run as of an earlier day (a command, a test) is issued that day
        issued_at = min(timezone.now(), datetime.combine(today, time.min, tzinfo=UTC)) if today else timezone.now()
    organization = Organization.objects.select_for_update().get(pk=organization.pk)
    if Statement.objects.filter(organization=organization, month=month_start).exists():
        return None
    seconds = month_seconds(organization, month_start, month_end(month_start))
    adjustments = late_usage_adjustments(organization, month_start)
    if not any(seconds.values()) and not adjustments:
        return None
    book = PriceBook.book_for(organization, month_start)
    priced = price_month(billed_minutes(organization, month_start, month_end(month_start)), book.prices())
    sequence = (Statement.objects.filter(organization=organization).aggregate(last=Max("sequence"))["last"] or 0) + 1
    adjustments_total = sum((adjustment.amount for adjustment in adjustments), Decimal("0.00"))
    statement = Statement.objects.create(
        organization=organization,
        month=month_start,
        sequence=sequence,
        number=invoice_number(month_start, sequence),
        price_book=book,
        currency=priced.currency,
        issued_at=issued_at,
        due_date=due_date_for(month_start, issued_at.astimezone(UTC).date()),
        usage_seconds=seconds,
        total_minutes=priced.total_minutes,
        usage_total=priced.total,
        adjustments_total=adjustments_total,
        total=priced.total + adjustments_total,
        bill_to=bill_to_lines(organization, BillingProfile.objects.filter(organization=organization).first()),
    )
    StatementLine.objects.bulk_create(statement_lines(statement, priced, adjustments))
    audit.record(
        "billing.statement_issued",
        actor=None,
        organization=organization,
        target=statement.number,
        month=f"{month_start:%Y-%m}",
        total=str(statement.total),
    )
    return statement


def statement_lines(statement: Statement, priced: Any, adjustments: list[Adjustment]) -> list[StatementLine]:
    lines = [
        StatementLine(
            kind=StatementLine.Kind.USAGE,
            description=line.label,
            usage_month=statement.month,
            tier=line.tier,
            minutes=line.minutes,
            free_minutes=line.free_minutes,
            billable_minutes=line.billable_minutes,
            unit_price=line.unit_price,
            amount=line.amount,
        )
        for line in priced.lines
    ]
    # The discount and the rounding are lines of their own, each only when it is not zero (see pricing).
    extra = ((StatementLine.Kind.DISCOUNT, -priced.discount), (StatementLine.Kind.ROUNDING, priced.rounding))
    for kind, amount in extra:
        if amount:
            lines.append(StatementLine(kind=kind, description=kind.label, usage_month=statement.month, amount=amount))
    lines.extend(
        StatementLine(
            kind=StatementLine.Kind.ADJUSTMENT,
            description=f"Late usage of {adjustment.usage_month:%B %Y}",
            usage_month=adjustment.usage_month,
            amount=adjustment.amount,
        )
        for adjustment in adjustments
    )
    for position, line in enumerate(lines, start=1):
        line.statement, line.position = statement, position
    return lines
