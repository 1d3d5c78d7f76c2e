"""Dates in one place: today in UTC, month arithmetic, and dates and durations as pages show them.

The console counts days and months in UTC (usage days, billing months, value dates), whatever the server's
local clock says; every "today" and every month boundary in the apps comes from here."""

import calendar
from datetime import UTC, date, datetime, timedelta

from django.utils import timezone


def utc_today() -> date:
    """Today's date in UTC (from `django.utils.timezone.now`, so tests can move the clock)."""
    return timezone.now().astimezone(UTC).date()


def month_start(day: date) -> date:
    """The 1st of `day`'s month."""
    return day.replace(day=1)


def month_end(day: date) -> date:
    """The last day of `day`'s month: 2028-02-29 for any day of February 2028."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def add_months(day: date, months: int) -> date:
    """The 1st of the month `months` after `day`'s month (before it when `months` is negative)."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def next_month(day: date) -> date:
    """The 1st of the month after `day`'s month: 2027-01-01 for any day of December 2026."""
    return add_months(day, 1)


def previous_month(day: date) -> date:
    """The 1st of the month before `day`'s month: 2026-12-01 for any day of January 2027."""
    return add_months(day, -1)


def duration_label(delta: timedelta | None) -> str:
    """A run's length, to the second: "< 1 s", "42 s", "3 min 5 s", "2 h 14 min"."""
    if delta is None:
        return ""
    seconds = int(delta.total_seconds())
    if seconds < 1:
        return "< 1 s"
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def time_left_label(delta: timedelta) -> str:
    """Time until something, to the minute: "3 h 12 min", "45 min", "under a minute"."""
    minutes = int(delta.total_seconds()) // 60
    if minutes < 1:
        return "under a minute"
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def moment_label(moment: datetime) -> str:
    """A moment in UTC: "14:32 UTC" when it is today, "2026-12-05 14:32 UTC" otherwise."""
    moment = moment.astimezone(UTC)
    if moment.date() == utc_today():
        return f"{moment:%H:%M} UTC"
    return f"{moment:%Y-%m-%d %H:%M} UTC"
