"""Usage reports: seconds and minutes per tier, per period (day or month) and optionally per project.

Everything is aggregated in the database, in a constant number of queries whatever the range or the number
of projects: one aggregate for the periods (every period of the range, zeros included), and, with the
breakdown, one query per page of (period, project) rows (plus one to count them by month). The totals come
from the periods' sums.

Minutes are billable minutes as defined once in `usage.minutes` (rounded up per project, tier, business and
day; legacy HD+ billed as HD), summed in the database. A row's minutes are the sum of its days' minutes, so the
rows of any table add up to its total row, whatever the granularity or the breakdown, and a calendar month's
total is exactly the minutes its bill counts. Seconds are kept per usage column (legacy HD+ on its own) for
reference.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth

from console.dates import month_end, month_start, next_month

from . import minutes as billable
from .models import BUSINESSES, DURATION_FIELDS, TIER_LABELS, DailyUsage

COLUMNS: tuple[str, ...] = tuple(DURATION_FIELDS.values())  # seconds: Audio, HD, Full HD, 2K, 2K+, legacy HD+
TIERS: tuple[str, ...] = billable.TIER_KEYS  # minutes: Audio, HD (with legacy HD+), Full HD, 2K, 2K+
GRANULARITIES = ("day", "month")
BUSINESS_LABELS = {
    "default": "RTC (default)",
    "transcodeDuration": "Transcoding",
    "recording": "On-premise recording",
    "cloudRecording": "Cloud recording",
    "miniapp": "Mini app",
}
assert set(BUSINESS_LABELS) == set(BUSINESSES)

_SUMS = {f"sum_{column}": Sum(column) for column in COLUMNS} | billable.minutes_sums()
_NONZERO = Q()
for _column in COLUMNS:
    _NONZERO |= Q(**{f"{_column}__gt": 0})


@dataclass(frozen=True)
class ProjectRef:
    pk: int
    project_id: str  # the public id used in URLs and query strings
    name: str


@dataclass(frozen=True)
class Row:
    """One row of a report: a period (start..end, both included), optionally one project, seconds per usage
    column and billable minutes per tier."""

    start: date
    end: date
    seconds: tuple[int, ...]  # in COLUMNS order
    minutes: tuple[int, ...]  # in TIERS order, summed from the days' rounded minutes
    granularity: str = "day"
    project: ProjectRef | None = None
    is_total: bool = False

    @property
    def total_seconds(self) -> int:
        return sum(self.seconds)

    @property
    def total_minutes(self) -> int:
        return sum(self.minutes)

    @property
    def label(self) -> str:
        if self.is_total:
            return "Total"
        return self.start.strftime("%Y-%m") if self.granularity == "month" else self.start.isoformat()

    @property
    def partial(self) -> bool:
        """A month row that the range covers only in part."""
        if self.is_total or self.granularity != "month":
            return False
        return self.start.day != 1 or self.end.day != month_end(self.start).day

    def tier_seconds(self) -> tuple[int, ...]:
        """Seconds per billing tier (in TIERS order): legacy HD+ counted with HD, as billed."""
        by_column = dict(zip(COLUMNS, self.seconds, strict=True))
        return tuple(sum(by_column[column] for column in tier.columns) for tier in billable.TIERS)


def total_row(rows: list[Row], day_from: date, day_to: date, granularity: str = "month") -> Row:
    """The total row of a table: the sums of its rows, seconds and minutes alike."""
    seconds = tuple(sum(row.seconds[i] for row in rows) for i in range(len(COLUMNS)))
    minutes = tuple(sum(row.minutes[i] for row in rows) for i in range(len(TIERS)))
    return Row(day_from, day_to, seconds, minutes, granularity, is_total=True)


@dataclass
class UsageReport:
    day_from: date
    day_to: date
    business: str
    granularity: str
    breakdown: bool
    periods: list[Row]  # every period of the range, aggregated over the projects, zeros included
    breakdown_count: int  # (period, project) rows with usage; 0 without the breakdown
    _usage: QuerySet = field(repr=False)  # the range's DailyUsage rows

    @cached_property
    def totals(self) -> Row:
        return total_row(self.periods, self.day_from, self.day_to, self.granularity)

    @property
    def has_usage(self) -> bool:
        return self.totals.total_seconds > 0

    @property
    def row_count(self) -> int:
        return self.breakdown_count if self.breakdown else len(self.periods)

    @property
    def rows(self) -> list[Row]:
        """The table's rows: the periods, or (with the breakdown) every (period, project) with usage."""
        return self.breakdown_rows() if self.breakdown else list(self.periods)

    def breakdown_rows(self, start: int = 0, stop: int | None = None) -> list[Row]:
        """One query: the (period, project) rows with usage, by period then project name, sliced."""
        return [self._breakdown_row(values) for values in self._breakdown_values()[start:stop]]

    def iter_rows(self) -> Iterator[Row]:
        """The table's rows without holding them all in memory (for the CSV export)."""
        if not self.breakdown:
            yield from self.periods
            return
        for values in self._breakdown_values().iterator(chunk_size=2000):
            yield self._breakdown_row(values)

    def _breakdown_values(self) -> QuerySet:
        usage = self._usage.filter(_NONZERO)
        project_fields = ("project_id", "project__project_id", "project__name")
        order = ("period", "project__name", "project_id")
        if self.granularity == "day":
            # (project, date, business) is unique: a row is already one period of one project, no grouping.
            minutes = billable.row_minutes_annotations()
            rows = usage.annotate(period=F("date"), **minutes)
            return rows.values("period", *project_fields, *COLUMNS, *minutes).order_by(*order)
        return (
            usage.annotate(period=TruncMonth("date"))
            .values("period", *project_fields)
            .annotate(**{f"sum_{column}": Sum(column) for column in COLUMNS}, **billable.minutes_sums())
            .order_by(*order)
        )

    def _breakdown_row(self, values: dict) -> Row:
        start, end = _period_bounds(values["period"], self.granularity, self.day_from, self.day_to)
        project = ProjectRef(values["project_id"], values["project__project_id"], values["project__name"])
        prefix = "" if self.granularity == "day" else "sum_"
        seconds = tuple(int(values[f"{prefix}{column}"] or 0) for column in COLUMNS)
        return Row(start, end, seconds, billable.read_minutes(values), self.granularity, project)


def usage_report(
    projects_qs: QuerySet,
    day_from: date,
    day_to: date,
    business: str = "default",
    granularity: str = "day",
    breakdown: bool = False,
) -> UsageReport:
    """The usage of `projects_qs` (already narrowed to what the member may see) from `day_from` to `day_to`
    (UTC days, both included) for one business, by day or by month, optionally broken down by project.

    Runs one query now (two for a breakdown by month); the breakdown's rows are read when asked for, one query
    per slice.
    """
    if granularity not in GRANULARITIES:
        raise ValueError(f"Unknown granularity {granularity!r}.")
    if day_from > day_to:
        raise ValueError("The range starts after it ends.")
    usage = DailyUsage.objects.filter(
        project__in=projects_qs.values("pk"), business=business, date__gte=day_from, date__lte=day_to
    )
    # Summed by day in the database (at most 731 rows), rolled up to months here: on PostgreSQL, grouping
    # 365,000 rows by DATE_TRUNC('month', date) costs half as much again as grouping them by date.
    aggregates = dict(_SUMS)
    if breakdown and granularity == "day":
        # (project, date, business) is unique: the projects with usage on a day are its non-empty rows.
        aggregates["projects"] = Count("pk", filter=_NONZERO)
    sums: dict[date, list[int]] = {}  # period start -> seconds per column, then minutes per tier
    count = 0
    for values in usage.values("date").annotate(**aggregates).order_by():
        day = values["date"]
        period_sums = sums.setdefault(day if granularity == "day" else month_start(day), [0] * _WIDTH)
        day_values = [int(values[f"sum_{column}"] or 0) for column in COLUMNS] + list(billable.read_minutes(values))
        for index, value in enumerate(day_values):
            period_sums[index] += value
        count += values.get("projects") or 0
    periods = []
    for start in _period_starts(day_from, day_to, granularity):
        first, last = _period_bounds(start, granularity, day_from, day_to)
        values = sums.get(start, [0] * _WIDTH)
        periods.append(Row(first, last, tuple(values[: len(COLUMNS)]), tuple(values[len(COLUMNS) :]), granularity))
    if breakdown and granularity == "month":  # (month, project) pairs with usage: one more query
        months = usage.filter(_NONZERO).annotate(period=TruncMonth("date")).values("period", "project_id")
        count = months.distinct().count()
    return UsageReport(day_from, day_to, business, granularity, breakdown, periods, count, usage)


_WIDTH = len(COLUMNS) + len(TIERS)


def _period_starts(day_from: date, day_to: date, granularity: str) -> Iterator[date]:
    if granularity == "day":
        for offset in range((day_to - day_from).days + 1):
            yield day_from + timedelta(days=offset)
        return
    current = month_start(day_from)
    while current <= day_to:
        yield current
        current = next_month(current)


def _period_bounds(start, granularity: str, day_from: date, day_to: date) -> tuple[date, date]:
    """The days of the range that a period covers (a month is cut by the range's ends)."""
    if hasattr(start, "date"):  # a datetime from a backend that truncates to timestamps
        start = start.date()
    if granularity == "day":
        return start, start
    return max(start, day_from), min(month_end(start), day_to)


# Overview card ---------------------------------------------------------------------------------------------


@dataclass
class Glance:
    """Month-to-date minutes per tier and the last 30 days' daily minutes, for the overview card."""

    month_start: date
    today: date
    month_to_date: Row
    daily: list[Row]  # the last 30 days, oldest first

    @property
    def tiers(self) -> list[tuple[str, int]]:
        return [(TIER_LABELS[tier], value) for tier, value in zip(TIERS, self.month_to_date.minutes, strict=True)]

    @property
    def daily_minutes(self) -> list[int]:
        return [row.total_minutes for row in self.daily]


def usage_glance(projects_qs: QuerySet, today: date, business: str = "default", days: int = 30) -> Glance:
    """One query: daily sums from the earlier of the month's first day and 30 days ago, up to today."""
    month_start, _ = billable.month_to_date_range(today)
    spark_start = today - timedelta(days=days - 1)
    report = usage_report(projects_qs, min(month_start, spark_start), today, business, "day")
    in_month = [row for row in report.periods if row.start >= month_start]
    month_to_date = total_row(in_month, month_start, today)
    daily = [row for row in report.periods if row.start >= spark_start]
    return Glance(month_start, today, month_to_date, daily)
