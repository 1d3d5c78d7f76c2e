"""The usage page and its CSV export. Both read the same query string through `UsageFilters`, so the CSV holds
exactly the rows of the table (all pages of it) with the exact seconds next to the minutes shown."""

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.core.paginator import Paginator
from django.http import QueryDict
from django.shortcuts import render
from django.views.decorators.http import require_safe

from accounts.access import member_required, restrict
from console.changelist import date_param
from console.csv_export import csv_download
from console.dates import add_months, utc_today
from console.navigation import tabs
from projects.models import Project

from . import report as reports
from .minutes import month_to_date_range
from .models import BUSINESSES, TIER_LABELS
from .report import BUSINESS_LABELS, COLUMNS, GRANULARITIES, TIERS, Row, usage_glance
from .tabs import USAGE_TABS

PRESETS = {
    "cycle": "Current billing cycle",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "12m": "Last 12 months",
    "custom": "Custom range",
}
DEFAULT_PRESET = "cycle"
MAX_DAYS = 731  # two years (one of them possibly a leap year)
AUTO_MONTH_AFTER_DAYS = 92  # without a chosen granularity, longer ranges are shown by month
PAGE_SIZE = 100  # breakdown rows per page
TIER_COLORS = {
    "audio": "#14a38b",
    "video_hd": "#0a6cff",
    "video_full_hd": "#7b4ddb",
    "video_2k": "#f08c00",
    "video_2k_plus": "#d6336c",
}
# Column headers of the table (the chart and the summary use the full TIER_LABELS).
TIER_SHORT_LABELS = {
    "audio": "Audio",
    "video_hd": "HD",
    "video_full_hd": "Full HD",
    "video_2k": "2K",
    "video_2k_plus": "2K+",
}
TRUTHY = ("1", "on", "true", "yes")


@dataclass
class UsageFilters:
    """The page's query string, validated: bad values become warnings and defaults, never errors."""

    preset: str
    day_from: date
    day_to: date
    business: str
    granularity: str
    granularity_chosen: bool
    breakdown: bool
    scope: list[Project]  # every project the member may see, by name
    chosen: list[Project]  # the projects picked; empty: all of `scope`
    warnings: list[str] = field(default_factory=list)

    @property
    def projects_label(self) -> str:
        if not self.chosen:
            return "All projects"
        if len(self.chosen) == 1:
            return self.chosen[0].name
        return f"{len(self.chosen)} projects"

    def projects_qs(self, membership):
        projects = restrict(Project, membership)
        return projects.filter(pk__in=[p.pk for p in self.chosen]) if self.chosen else projects


def parse_filters(params: QueryDict, membership, today: date | None = None) -> UsageFilters:
    today = today or utc_today()
    warnings: list[str] = []

    # Period: a preset, or a custom range (also implied by from/to without a preset).
    preset = params.get("period", "").strip()
    if not preset:
        preset = "custom" if (params.get("from") or params.get("to")) else DEFAULT_PRESET
    elif preset not in PRESETS:
        warnings.append(f"Unknown period {preset[:30]!r}: showing the current billing cycle.")
        preset = DEFAULT_PRESET
    if preset == "custom":
        day_from, day_to = _custom_range(params, today, warnings)
    else:
        day_from, day_to = _preset_range(preset, today)

    business = params.get("business", "default")
    if business not in BUSINESSES:
        warnings.append(f"Unknown business {business[:30]!r}: showing {BUSINESS_LABELS['default']}.")
        business = "default"

    granularity = params.get("granularity", "")
    chosen_granularity = granularity in GRANULARITIES
    if granularity and not chosen_granularity:
        warnings.append(f"Unknown granularity {granularity[:30]!r}: use day or month.")
    if not chosen_granularity:
        granularity = "month" if (day_to - day_from).days + 1 > AUTO_MONTH_AFTER_DAYS else "day"

    scope = list(restrict(Project, membership).only("pk", "project_id", "name", "archived_at").order_by("name"))
    by_public_id = {project.project_id: project for project in scope}
    requested = [value for value in dict.fromkeys(params.getlist("project")) if value]
    chosen = [by_public_id[value] for value in requested if value in by_public_id]
    unknown = [value for value in requested if value not in by_public_id]
    if unknown:
        shown = ", ".join(repr(value[:20]) for value in unknown[:3]) + (" …" if len(unknown) > 3 else "")
        warnings.append(
            f"Ignored {len(unknown)} project{'s' if len(unknown) > 1 else ''} not among your projects: {shown}."
            + ("" if chosen else " Showing all your projects.")
        )

    return UsageFilters(
        preset=preset,
        day_from=day_from,
        day_to=day_to,
        business=business,
        granularity=granularity,
        granularity_chosen=chosen_granularity,
        breakdown=params.get("breakdown", "").lower() in TRUTHY,
        scope=scope,
        chosen=chosen,
        warnings=warnings,
    )


def _preset_range(preset: str, today: date) -> tuple[date, date]:
    if preset == "cycle":  # month to date, exactly as billing counts it
        return month_to_date_range(today)
    if preset == "12m":
        return add_months(today, -11), today
    days = int(preset.removesuffix("d"))
    return today - timedelta(days=days - 1), today


def _custom_range(params: QueryDict, today: date, warnings: list[str]) -> tuple[date, date]:
    day_from = date_param(params, "from", warnings)
    day_to = date_param(params, "to", warnings) or today
    if day_from is None:
        day_from = day_to - timedelta(days=29) if day_to >= date.min + timedelta(days=29) else date.min
    if day_from > day_to:
        warnings.append(f"The start {day_from} was after the end {day_to}: swapped them.")
        day_from, day_to = day_to, day_from
    if day_to > today:
        warnings.append(f"There is no usage after today ({today} UTC): showing up to today.")
        day_to = today
        day_from = min(day_from, today)
    if (day_to - day_from).days + 1 > MAX_DAYS:
        day_from = day_to - timedelta(days=MAX_DAYS - 1)
        warnings.append(f"A range covers at most 2 years: showing {day_from} to {day_to}.")
    return day_from, day_to


def _report(request):
    filters = parse_filters(request.GET, request.membership)
    report = reports.usage_report(
        filters.projects_qs(request.membership),
        filters.day_from,
        filters.day_to,
        business=filters.business,
        granularity=filters.granularity,
        breakdown=filters.breakdown,
    )
    return filters, report


# The page ---------------------------------------------------------------------------------------------------


def _seconds_note(seconds: int, tier: str, row: Row) -> str:
    """The tooltip of a minutes cell: the exact seconds (HD says how many were legacy HD+)."""
    note = f"{seconds:,} s"
    legacy = row.seconds[COLUMNS.index("video_hd_plus")]
    if tier == "video_hd" and legacy:
        note += f", of which {legacy:,} s legacy HD+"
    return note


def _cells(row: Row) -> list[dict]:
    """A row's minute cells, formatted, with the exact seconds for the tooltip."""
    return [
        {"minutes": f"{m:,}", "seconds": _seconds_note(s, tier, row)}
        for tier, s, m in zip(TIERS, row.tier_seconds(), row.minutes, strict=True)
    ]


def _table_row(row: Row) -> dict:
    return {
        "label": row.label,
        "start": row.start,
        "end": row.end,
        "partial": row.partial,
        "project": row.project,
        "cells": _cells(row),
        "total_minutes": f"{row.total_minutes:,}",
        "total_seconds": f"{row.total_seconds:,}",
    }


def _chart(report) -> dict:
    return {
        "labels": [row.label for row in report.periods],
        "datasets": [
            {"label": TIER_LABELS[tier], "color": TIER_COLORS[tier], "data": [row.minutes[i] for row in report.periods]}
            for i, tier in enumerate(TIERS)
        ],
    }


@member_required("usage")
@require_safe
def usage_report(request):
    filters, report = _report(request)
    page = None
    if report.breakdown:
        page = Paginator(_BreakdownRows(report), PAGE_SIZE).get_page(request.GET.get("page"))
        rows = page.object_list
    else:
        rows = report.periods
    params = request.GET.copy()
    params.pop("page", None)
    context = {
        "usage_tabs": tabs(request, "overview", USAGE_TABS),
        "filters": filters,
        "report": report,
        "presets": PRESETS.items(),
        "businesses": [(key, BUSINESS_LABELS[key]) for key in BUSINESSES],
        "tiers": [(TIER_SHORT_LABELS[tier], TIER_LABELS[tier], TIER_COLORS[tier]) for tier in TIERS],
        "rows": [_table_row(row) for row in rows] if report.has_usage else [],
        "totals": _table_row(report.totals),
        "chart": _chart(report) if report.has_usage else None,
        "summary": [
            {
                "label": TIER_LABELS[tier],
                "color": TIER_COLORS[tier],
                "minutes": f"{m:,}",
                "seconds": _seconds_note(s, tier, report.totals),
            }
            for tier, s, m in zip(TIERS, report.totals.tier_seconds(), report.totals.minutes, strict=True)
            if s
        ],
        "page": page,
        "query": params.urlencode(),
        "chosen_ids": {project.project_id for project in filters.chosen},
        "range_days": (filters.day_to - filters.day_from).days + 1,
    }
    return render(request, "usage/report.html", context)


class _BreakdownRows:
    """What Paginator needs: the row count known from the periods' query, and one query per page."""

    def __init__(self, report):
        self.report = report

    def count(self) -> int:
        return self.report.breakdown_count

    def __getitem__(self, item: slice) -> list[Row]:
        return self.report.breakdown_rows(item.start or 0, item.stop)


# The export -------------------------------------------------------------------------------------------------


def csv_header(breakdown: bool) -> list[str]:
    header = ["period", "period_start", "period_end"]
    if breakdown:
        header += ["project_id", "project_name"]
    header += [f"{column}_seconds" for column in COLUMNS] + [f"{tier}_minutes" for tier in TIERS]
    return header + ["total_seconds", "total_minutes"]


def csv_row(row: Row, breakdown: bool) -> list:
    values = [row.label, row.start.isoformat(), row.end.isoformat()]
    if breakdown:
        project = row.project
        values += [project.project_id, project.name] if project else ["", ""]
    return values + list(row.seconds) + list(row.minutes) + [row.total_seconds, row.total_minutes]


@member_required("usage")
@require_safe
def usage_csv(request):
    filters, report = _report(request)

    def rows():
        if report.has_usage:
            for row in report.iter_rows():
                yield csv_row(row, report.breakdown)
        yield csv_row(report.totals, report.breakdown)

    name = f"usage-{filters.business}-{filters.day_from}-{filters.day_to}-by-{filters.granularity}"
    name += "-breakdown" if report.breakdown else ""
    return csv_download(f"{name}.csv", csv_header(report.breakdown), rows())


# The overview card ------------------------------------------------------------------------------------------

SPARK_WIDTH, SPARK_HEIGHT = 240, 48


def overview_card(request) -> dict:
    """The console overview's usage card (registered in usage.apps): month-to-date minutes per tier and a
    30-day sparkline (an SVG polyline drawn here), in one query."""
    today = utc_today()
    glance = usage_glance(restrict(Project, request.membership), today)
    values = glance.daily_minutes
    peak = max(values) or 1
    step = SPARK_WIDTH / max(len(values) - 1, 1)
    points = [
        (round(i * step, 1), round(SPARK_HEIGHT - 2 - (v / peak) * (SPARK_HEIGHT - 4), 1)) for i, v in enumerate(values)
    ]
    line = " ".join(f"{x},{y}" for x, y in points)
    area = f"0,{SPARK_HEIGHT} {line} {SPARK_WIDTH},{SPARK_HEIGHT}"
    return {
        "glance": glance,
        "tiers": [(label, f"{value:,}") for label, value in glance.tiers if value],
        "total": f"{glance.month_to_date.total_minutes:,}",
        "spark_line": line,
        "spark_area": area,
        "spark_width": SPARK_WIDTH,
        "spark_height": SPARK_HEIGHT,
        "spark_peak": f"{max(values):,}" if values else "0",
        "spark_from": glance.daily[0].start if glance.daily else today,
        "has_usage": any(values) or glance.month_to_date.total_seconds > 0,
    }
