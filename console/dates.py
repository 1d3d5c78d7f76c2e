"""Dates and durations as pages show them."""

from datetime import UTC, datetime, timedelta

from django.utils import timezone


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
    if moment.date() == timezone.now().astimezone(UTC).date():
        return f"{moment:%H:%M} UTC"
    return f"{moment:%Y-%m-%d %H:%M} UTC"
