"""console/dates.py is the one place for "today" and month arithmetic: months across year ends and short
months, today in UTC whatever the local clock says, and a check that no app writes either inline again."""

import ast
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from console.dates import add_months, moment_label, month_end, month_start, next_month, previous_month, utc_today

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "billing", "console", "projects", "tokens", "usage")
THE_PLACE = ROOT / "console" / "dates.py"
# Names of month or "today" helpers that belong in console/dates.py only (leading underscores ignored).
HELPER_NAMES = {
    "today",
    "utc_today",
    "this_month",
    "month_start",
    "first_of_month",
    "month_end",
    "last_day",
    "last_day_of_month",
    "next_month",
    "previous_month",
    "prev_month",
    "add_months",
    "months_before",
    "months_ago",
}


# Month arithmetic ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "start", "end"),
    [
        (date(2027, 1, 31), date(2027, 1, 1), date(2027, 1, 31)),
        (date(2027, 2, 14), date(2027, 2, 1), date(2027, 2, 28)),
        (date(2028, 2, 1), date(2028, 2, 1), date(2028, 2, 29)),  # leap year
        (date(2100, 2, 10), date(2100, 2, 1), date(2100, 2, 28)),  # a century that is not a leap year
        (date(2026, 4, 30), date(2026, 4, 1), date(2026, 4, 30)),
        (date(2026, 12, 1), date(2026, 12, 1), date(2026, 12, 31)),
        (date(9999, 12, 31), date(9999, 12, 1), date(9999, 12, 31)),  # the last month has an end too
    ],
)
def test_a_months_first_and_last_day(day, start, end):
    assert month_start(day) == start and month_end(day) == end


@pytest.mark.parametrize(
    ("day", "following", "preceding"),
    [
        (date(2027, 1, 31), date(2027, 2, 1), date(2026, 12, 1)),  # Jan 31 -> Feb, and back over the year end
        (date(2026, 12, 15), date(2027, 1, 1), date(2026, 11, 1)),  # Dec -> Jan
        (date(2027, 1, 1), date(2027, 2, 1), date(2026, 12, 1)),
        (date(2028, 2, 29), date(2028, 3, 1), date(2028, 1, 1)),
        (date(2027, 3, 31), date(2027, 4, 1), date(2027, 2, 1)),  # to a short month
    ],
)
def test_the_next_and_the_previous_month(day, following, preceding):
    assert next_month(day) == following and previous_month(day) == preceding


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 3, 18), -11, date(2025, 4, 1)),  # the usage page's "last 12 months"
        (date(2026, 11, 30), 14, date(2028, 1, 1)),
        (date(2027, 1, 31), -13, date(2025, 12, 1)),
        (date(2026, 5, 31), 0, date(2026, 5, 1)),
        (date(2026, 1, 15), -1, date(2025, 12, 1)),
    ],
)
def test_adding_months(day, months, expected):
    assert add_months(day, months) == expected


def test_the_helpers_agree_day_by_day_over_four_years():
    day = date(2025, 1, 1)
    while day < date(2029, 1, 1):
        following = next_month(day)
        assert following == month_end(day) + timedelta(days=1)
        assert following.day == 1 and (following - timedelta(days=1)).month == day.month
        assert previous_month(following) == month_start(day) == add_months(day, 0)
        assert next_month(previous_month(day)) == month_start(day)
        day += timedelta(days=1)


# Today in UTC ----------------------------------------------------------------------------------------------


def test_today_is_the_utc_date_when_the_local_clock_is_already_in_the_next_year(settings, monkeypatch):
    settings.TIME_ZONE = "Pacific/Kiritimati"  # UTC+14: moves the process's local clock too
    monkeypatch.setattr(timezone, "now", lambda: datetime(2026, 12, 31, 23, 30, tzinfo=UTC))
    assert timezone.localdate() == date(2027, 1, 1)  # the local date is a day ahead
    assert utc_today() == date(2026, 12, 31)


def test_today_is_the_utc_date_when_the_clock_reads_in_another_zone(monkeypatch):
    local = datetime(2027, 1, 1, 9, 0, tzinfo=ZoneInfo("Pacific/Kiritimati"))  # 2026-12-31 19:00 UTC
    monkeypatch.setattr(timezone, "now", lambda: local)
    assert utc_today() == date(2026, 12, 31)
    behind = datetime(2026, 12, 31, 20, 0, tzinfo=ZoneInfo("America/Los_Angeles"))  # 2027-01-01 04:00 UTC
    monkeypatch.setattr(timezone, "now", lambda: behind)
    assert utc_today() == date(2027, 1, 1)


def test_a_moment_of_today_is_shown_by_its_time_only_in_utc(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: datetime(2026, 12, 5, 23, 0, tzinfo=UTC))
    assert moment_label(datetime(2026, 12, 5, 14, 32, tzinfo=UTC)) == "14:32 UTC"
    late_in_new_york = datetime(2026, 12, 5, 20, 0, tzinfo=ZoneInfo("America/New_York"))  # 6th, 01:00 UTC
    assert moment_label(late_in_new_york) == "2026-12-06 01:00 UTC"


# Nowhere else ----------------------------------------------------------------------------------------------


def _is_now(node: ast.AST) -> bool:
    """`timezone.now()`, `datetime.now(UTC)`, `now()`, also behind `.astimezone(...)`."""
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "astimezone":
        node = node.func.value
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    return (isinstance(func, ast.Attribute) and func.attr == "now") or (isinstance(func, ast.Name) and func.id == "now")


def _date_problem(node: ast.AST) -> str | None:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.lstrip("_") in HELPER_NAMES:
        return f"a private date helper {node.name}()"
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    if name == "date" and not node.args and isinstance(func, ast.Attribute) and _is_now(func.value):
        return f"today written inline: {ast.unparse(node)}"
    if name in {"localdate", "utcnow"}:
        return f"today written inline: {ast.unparse(node)}"
    if name == "today" and isinstance(func, ast.Attribute) and ast.unparse(func.value) in {"date", "datetime"}:
        return f"today written inline: {ast.unparse(node)}"
    if name == "monthrange":
        return f"month arithmetic written inline: {ast.unparse(node)}"
    day_one = any(k.arg == "day" and isinstance(k.value, ast.Constant) and k.value.value == 1 for k in node.keywords)
    if name == "replace" and day_one:
        return f"month arithmetic written inline: {ast.unparse(node)}"
    return None


def date_problems(source: str) -> list[str]:
    tree = ast.parse(source)
    return [f"line {node.lineno}: {problem}" for node in ast.walk(tree) if (problem := _date_problem(node))]


def _app_modules() -> list[Path]:
    return [
        path
        for app in APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        if "tests" not in path.relative_to(ROOT).parts and path != THE_PLACE
    ]


def test_no_app_writes_today_or_month_arithmetic_outside_console_dates():
    modules = _app_modules()
    assert ROOT / "billing" / "closing.py" in modules and ROOT / "usage" / "views.py" in modules
    offenders = {
        path.relative_to(ROOT).as_posix(): found for path in modules if (found := date_problems(path.read_text()))
    }
    assert offenders == {}


@pytest.mark.parametrize(
    "source",
    [
        "today = timezone.now().date()",
        "today = datetime.now(UTC).date()",
        "today = timezone.now().astimezone(UTC).date()",
        "today = timezone.localdate()",
        "today = date.today()",
        "day = datetime.utcnow()",
        "month = today.replace(day=1)",
        "last = calendar.monthrange(2026, 2)[1]",
        "def _next_month(first):\n    return first",
        "class Page:\n    def this_month(self):\n        return None",
    ],
)
def test_the_check_sees_each_inline_form(source):
    assert date_problems(source)


def test_the_check_leaves_dates_of_given_moments_alone():
    source = "issued_on = issued_at.astimezone(UTC).date()\nday = now.date()\nnumber = today.replace(day=6)\n"
    assert date_problems(source) == []
