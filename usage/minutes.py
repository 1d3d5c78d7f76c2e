"""Billable minutes: the one definition behind every figure in minutes (and so every amount) the console shows.

The usage API reports seconds per project, business (RTC "default", transcoding, recording...), UTC day and
resolution column. The console turns them into minutes like this, and nowhere else:

- **Per project, tier, business and day, rounded up**: a `DailyUsage` row's minutes for a tier are its seconds
  for that tier divided by 60 and rounded up (59 s -> 1, 60 s -> 1, 61 s -> 2). A day is the finest grain the
  usage API gives, so rounding there makes every figure additive: a period, a project, a month or an
  organization has the sum of its rows' minutes, and a table's rows always add up to its total row.
- **Five billing tiers**: Audio, Video HD, Video Full HD, Video 2K, Video 2K+. The legacy HD+ column
  (`durationVideoHdp`) is billed as Video HD: a row's HD seconds and HD+ seconds are added up *before* rounding
  (30 s HD + 30 s HD+ on one day is 1 minute, not 2). Seconds stay available per column for reference.
- **Month to date** is every UTC day from the 1st of the current month up to and including today; today's usage
  is what the last pull brought, so the figure grows until the day is over and pulled again.

The rounding happens in the database (integer arithmetic, the same on SQLite and PostgreSQL), so a report over
a year of rows still runs as one aggregate query.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from django.db.models import BigIntegerField, ExpressionWrapper, F, QuerySet, Sum, Value
from django.db.models.expressions import Combinable

from console.dates import month_start

from .models import TIER_LABELS


@dataclass(frozen=True)
class Tier:
    key: str
    label: str
    columns: tuple[str, ...]  # the DailyUsage columns whose seconds are billed in this tier


TIERS: tuple[Tier, ...] = (
    Tier("audio", "Audio", ("audio",)),
    Tier("video_hd", "Video HD", ("video_hd", "video_hd_plus")),
    Tier("video_full_hd", "Video Full HD", ("video_full_hd",)),
    Tier("video_2k", "Video 2K", ("video_2k",)),
    Tier("video_2k_plus", "Video 2K+", ("video_2k_plus",)),
)
TIER_KEYS: tuple[str, ...] = tuple(tier.key for tier in TIERS)
assert all(tier.label == TIER_LABELS[tier.key] for tier in TIERS)


def minutes_for(seconds: int) -> int:
    """One row's seconds for one tier -> its minutes, rounded up."""
    return -(-seconds // 60)


def row_minutes(seconds_by_column: Mapping[str, int]) -> dict[str, int]:
    """The minutes per tier of one row (one project, business and day), from its seconds per column."""
    return {tier.key: minutes_for(sum(int(seconds_by_column.get(c) or 0) for c in tier.columns)) for tier in TIERS}


def minutes_expression(tier: Tier) -> ExpressionWrapper:
    """The database expression of `row_minutes` for one tier: (seconds + 59) / 60 in integer arithmetic."""
    seconds: Combinable = F(tier.columns[0])
    for column in tier.columns[1:]:
        seconds = seconds + F(column)
    return ExpressionWrapper((seconds + Value(59)) / Value(60), output_field=BigIntegerField())


def row_minutes_annotations(prefix: str = "minutes_") -> dict:
    """Per-row minutes for `.annotate()` on DailyUsage rows (no grouping)."""
    return {f"{prefix}{tier.key}": minutes_expression(tier) for tier in TIERS}


def minutes_sums(prefix: str = "minutes_") -> dict:
    """Summed minutes for `.aggregate()` or a grouped `.annotate()`: the sum of the rows' rounded minutes."""
    return {f"{prefix}{tier.key}": Sum(minutes_expression(tier)) for tier in TIERS}


def read_minutes(values: Mapping, prefix: str = "minutes_") -> tuple[int, ...]:
    """The minutes per tier (in TIERS order) from a row of values produced with the annotations above."""
    return tuple(int(values[f"{prefix}{tier.key}"] or 0) for tier in TIERS)


def month_to_date_range(today: date) -> tuple[date, date]:
    """The days "month to date" covers: the 1st of today's month up to today, both included (UTC)."""
    return month_start(today), today


def period_minutes(usage_rows: QuerySet) -> dict[str, int]:
    """Minutes per tier over a DailyUsage queryset (one query): what a bill, an alert or a total counts."""
    sums = usage_rows.aggregate(**minutes_sums())
    return dict(zip(TIER_KEYS, read_minutes(sums), strict=True))
