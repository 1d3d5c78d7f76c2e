"""Usage reports: seconds and minutes per tier, per period (day or month) and optionally per project.

Everything is aggregated in the database, in a constant number of queries whatever the range or the number
of projects: one aggregate for the periods (every period of the range, zeros included), and, with the
breakdown, one query per page of (period, project) rows (plus one to count them by month). The totals come
from the periods' sums.

Minutes, as billing counts them (reference section 4: "each tier's monthly total in seconds is divided by 60
and rounded up"):

- a row's minutes for a tier = ceil(that tier's seconds in the row / 60), computed separately for every row
  (a period, or a period and a project);
- the total row's minutes for a tier = ceil(the whole range's seconds for that tier / 60): rounded once, so the
  total does not depend on the granularity or the breakdown, and for one calendar month it is exactly the
  minutes a bill counts (before free minutes). The rows, each rounded up on its own, may therefore add up to a
  little more than the total: less than one minute per row and tier;
- a row's "total minutes" is the sum of its tiers' minutes (each tier is billed at its own price).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth

from .models import BUSINESSES, DURATION_FIELDS, TIER_LABELS, DailyUsage

TIERS: tuple[str, ...] = tuple(DURATION_FIELDS.values())  # Audio, HD, Full HD, 2K, 2K+, legacy HD+
GRANULARITIES = ("day", "month")
BUSINESS_LABELS = {
    "default": "RTC (default)",
    "transcodeDuration": "Transcoding",
    "recording": "On-premise recording",
    "cloudRecording": "Cloud recording",
    "miniapp": "Mini app",
}
assert set(BUSINESS_LABELS) == set(BUSINESSES)
TIER_CHOICES = [(tier, TIER_LABELS[tier]) for tier in TIERS]

_SUMS = {f"sum_{tier}": Sum(tier) for tier in TIERS}
_NONZERO = Q()
for _tier in TIERS:
    _NONZERO |= Q(**{f"{_tier}__gt": 0})


def minutes(seconds: int) -> int:
    """Seconds to billed minutes: divided by 60, rounded up."""
    return -(-seconds // 60)


@dataclass(frozen=True)
class ProjectRef:
    pk: int
    project_id: str  # the public id used in URLs and query strings
    name: str


@dataclass(frozen=True)
class Row:
    """One row of a report: a period (start..end, both included), optionally one project, seconds per tier."""

    start: date
    end: date
    seconds: tuple[int, ...]  # in TIERS order
    granularity: str = "day"
    project: ProjectRef | None = None
    is_total: bool = False

    @property
    def minutes(self) -> tuple[int, ...]:
        return tuple(minutes(value) for value in self.seconds)

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
        last = calendar.monthrange(self.start.year, self.start.month)[1]
        return self.start.day != 1 or self.end.day != last

    def by_tier(self) -> dict[str, tuple[int, int]]:
        """tier -> (seconds, minutes)."""
        return {tier: (s, m) for tier, s, m in zip(TIERS, self.seconds, self.minutes, strict=True)}


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
        seconds = tuple(sum(row.seconds[i] for row in self.periods) for i in range(len(TIERS)))
        return Row(self.day_from, self.day_to, seconds, self.granularity, is_total=True)

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
            return usage.annotate(period=F("date")).values("period", *project_fields, *TIERS).order_by(*order)
        return (
            usage.annotate(period=TruncMonth("date"))
            .values("period", *project_fields)
            .annotate(**{tier: Sum(tier) for tier in TIERS})
            .order_by(*order)
        )

    def _breakdown_row(self, values: dict) -> Row:
        start, end = _period_bounds(values["period"], self.granularity, self.day_from, self.day_to)
        project = ProjectRef(values["project_id"], values["project__project_id"], values["project__name"])
        seconds = tuple(int(values[tier] or 0) for tier in TIERS)
        return Row(start, end, seconds, self.granularity, project)


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
    sums: dict[date, list[int]] = {}
    count = 0
    for values in usage.values("date").annotate(**aggregates).order_by():
        day = values["date"]
        period_sums = sums.setdefault(day if granularity == "day" else day.replace(day=1), [0] * len(TIERS))
        for index, tier in enumerate(TIERS):
            period_sums[index] += int(values[f"sum_{tier}"] or 0)
        count += values.get("projects") or 0
    periods = []
    for start in _period_starts(day_from, day_to, granularity):
        first, last = _period_bounds(start, granularity, day_from, day_to)
        periods.append(Row(first, last, tuple(sums.get(start, (0,) * len(TIERS))), granularity))
    if breakdown and granularity == "month":  # (month, project) pairs with usage: one more query
        months = usage.filter(_NONZERO).annotate(period=TruncMonth("date")).values("period", "project_id")
        count = months.distinct().count()
    return UsageReport(day_from, day_to, business, granularity, breakdown, periods, count, usage)


def _period_starts(day_from: date, day_to: date, granularity: str) -> Iterator[date]:
    if granularity == "day":
        for offset in range((day_to - day_from).days + 1):
            yield day_from + timedelta(days=offset)
        return
    current = day_from.replace(day=1)
    while current <= day_to:
        yield current
        current = _next_month(current)


def _next_month(first: date) -> date:
    return date(first.year + (first.month == 12), first.month % 12 + 1, 1)


def _period_bounds(start, granularity: str, day_from: date, day_to: date) -> tuple[date, date]:
    """The days of the range that a period covers (a month is cut by the range's ends)."""
    if hasattr(start, "date"):  # a datetime from a backend that truncates to timestamps
        start = start.date()
    if granularity == "day":
        return start, start
    return max(start, day_from), min(_next_month(start) - timedelta(days=1), day_to)


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
    month_start = today.replace(day=1)
    spark_start = today - timedelta(days=days - 1)
    report = usage_report(projects_qs, min(month_start, spark_start), today, business, "day")
    in_month = [row for row in report.periods if row.start >= month_start]
    seconds = tuple(sum(row.seconds[i] for row in in_month) for i in range(len(TIERS)))
    month_to_date = Row(month_start, today, seconds, "month", is_total=True)
    daily = [row for row in report.periods if row.start >= spark_start]
    return Glance(month_start, today, month_to_date, daily)
