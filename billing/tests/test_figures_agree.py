"""One figure everywhere: random usage, then every page, export and API that shows minutes or money for a
period must show the same numbers, and every table's rows must add up to its total row.

Month to date (the 1st of this month up to today, UTC): the overview's usage and billing cards, the usage
page and its CSV, the bill estimate page, the usage alerts page, `/api/v1/usage/summary/` and
`/api/v1/billing/estimate/`. A finished month: the usage page and API for that month against the statement
the month close issues (its page, its lines in the API). Runs on SQLite and on PostgreSQL (DATABASE_URL).
"""

import re
import uuid
from datetime import date, timedelta
from decimal import Decimal
from html.parser import HTMLParser

from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.closing import close_month
from billing.pricing import LIST_PRICES, price_month
from conftest import make_org
from usage.minutes import TIER_KEYS, row_minutes
from usage.models import DURATION_FIELDS, DailyUsage
from usage.tests.test_report_pages import csv_rows, table

COLUMNS = tuple(DURATION_FIELDS.values())
PROPERTY = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Seconds: small values (rounding shows), around a minute, and large ones (free minutes run out, bands).
seconds = st.one_of(st.integers(0, 130), st.integers(0, 6_000), st.integers(0, 40_000_000))
row_seconds = st.fixed_dictionaries({column: seconds for column in COLUMNS})


def usage_rows(first_day: date, last_day: date):
    """(project index, day offset, business, seconds per column) rows, unique per project, day and business."""
    days = (last_day - first_day).days
    key = st.tuples(st.integers(0, 1), st.integers(0, days), st.sampled_from(["default", "default", "recording"]))
    return st.dictionaries(key, row_seconds, max_size=12)


def store(org, first_day: date, rows: dict) -> None:
    DailyUsage.objects.all().delete()
    DailyUsage.objects.bulk_create(
        DailyUsage(project=org.projects[index], date=first_day + timedelta(days=offset), business=business, **values)
        for (index, offset, business), values in rows.items()
    )


def expected_minutes(rows: dict, days: set[int] | None = None) -> dict[str, int]:
    """The definition, computed here independently of the database: each row rounded up, then summed."""
    totals = dict.fromkeys(TIER_KEYS, 0)
    for (_, offset, business), values in rows.items():
        if business == "default" and (days is None or offset in days):
            for tier, value in row_minutes(values).items():
                totals[tier] += value
    return totals


def number(text: str) -> int:
    return int(text.replace(",", ""))


def money(text: str) -> Decimal:
    return Decimal(re.sub(r"[^0-9.\-]", "", text.replace("−", "-")))


class _TestId(HTMLParser):
    """The text inside the element with data-testid=`name`, nested elements included."""

    def __init__(self, name: str):
        super().__init__()
        self.name, self.depth, self.text = name, 0, []

    def handle_starttag(self, tag, attrs):
        if self.depth or dict(attrs).get("data-testid") == self.name:
            self.depth += 1

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.text.append(data)


def text_of(html: str, name: str) -> str:
    parser = _TestId(name)
    parser.feed(html)
    text = " ".join("".join(parser.text).split())
    assert text, name
    return text


def usage_page_totals(client, params: dict) -> tuple[dict[str, int], list[list[str]]]:
    rows = table(client.get(reverse("usage:overview"), params))
    if not rows:  # the empty state: no usage in the range
        return dict.fromkeys(TIER_KEYS, 0), []
    header, body, total = rows[0], rows[1:-1], rows[-1]
    assert total[0] == "Total"
    tiers = dict(zip(TIER_KEYS, (number(cell) for cell in total[1:-1]), strict=True))
    for index in range(1, len(header)):  # every column of the table adds up to its total row
        assert sum(number(row[index]) for row in body) == number(total[index]), header[index]
    assert sum(tiers.values()) == number(total[-1])
    return tiers, body


def csv_totals(client, params: dict) -> dict[str, int]:
    rows = csv_rows(client.get(reverse("usage:export"), params))
    total = rows[-1]
    for tier in TIER_KEYS:
        assert sum(int(row[f"{tier}_minutes"]) for row in rows[:-1]) == int(total[f"{tier}_minutes"])
    return {tier: int(total[f"{tier}_minutes"]) for tier in TIER_KEYS}


def api_totals(client, params: dict) -> dict[str, int]:
    body = client.get("/api/v1/usage/summary/", params).json()
    for tier in TIER_KEYS:
        assert sum(group["minutes"][tier] for group in body["groups"]) == body["total"]["minutes"][tier]
    return body["total"]["minutes"]


def assert_lines_add_up(lines: list[Decimal], total: Decimal) -> None:
    assert sum(lines, Decimal("0.00")) == total


def estimate_page(client) -> tuple[dict[str, int], Decimal]:
    response = client.get(reverse("billing:estimate"))
    html = response.content.decode()
    priced = response.context["priced"]
    minutes = {line.tier: line.minutes for line in priced.lines}
    shown = [line.amount for line in priced.lines] + [-priced.discount, priced.rounding]
    assert_lines_add_up(shown, priced.total)
    assert "−-" not in html and "--" not in text_of(html, "estimate-total")
    if priced.discount:
        assert money(text_of(html, "estimate-discount")) == -priced.discount
    else:
        assert 'data-testid="estimate-discount"' not in html
    if priced.rounding:
        assert money(text_of(html, "estimate-rounding")) == priced.rounding
    else:
        assert 'data-testid="estimate-rounding"' not in html
    assert money(text_of(html, "estimate-total")) == priced.total
    return minutes, priced.total


@PROPERTY
@given(data=st.data())
def test_month_to_date_figures_agree_on_every_surface(acme, client_for, data):
    today = timezone.now().date()
    first = today.replace(day=1)
    rows = data.draw(usage_rows(first - timedelta(days=3), today))  # a few days of last month too
    store(acme, first - timedelta(days=3), rows)
    in_month = {offset for (_, offset, _) in rows if first - timedelta(days=3) + timedelta(days=offset) >= first}
    expected = expected_minutes(rows, in_month)
    expected_total = price_month(expected, LIST_PRICES).total
    client = client_for(acme.users["finance"])

    usage_page, _ = usage_page_totals(client, {"period": "cycle"})
    assert usage_page == expected
    assert csv_totals(client, {"period": "cycle"}) == expected
    api_params = {"date_from": first.isoformat(), "date_to": today.isoformat(), "group_by": "day"}
    assert api_totals(client, api_params) == expected
    assert estimate_page(client) == (expected, expected_total)

    api_estimate = client.get("/api/v1/billing/estimate/").json()
    assert api_estimate["minutes"] == expected and Decimal(api_estimate["total"]) == expected_total
    lines = [Decimal(line["amount"]) for line in api_estimate["lines"]]
    assert_lines_add_up(lines + [-Decimal(api_estimate["discount"]), Decimal(api_estimate["rounding"])], expected_total)
    assert Decimal(api_estimate["discount"]) >= 0

    alerts = client.get(reverse("billing:alerts")).content.decode()
    assert number(text_of(alerts, "minutes-so-far").split()[0]) == sum(expected.values())
    assert money(text_of(alerts, "amount-so-far")) == expected_total

    overview = client.get(reverse("overview")).content.decode()
    assert number(text_of(overview, "usage-month-minutes")) == sum(expected.values())
    assert money(text_of(overview, "reserved-estimate")) == expected_total


@PROPERTY
@given(data=st.data())
def test_a_finished_months_statement_agrees_with_the_usage_page_and_api(db, client_for, data):
    today = timezone.now().date()
    month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    last_day = today.replace(day=1) - timedelta(days=1)
    rows = data.draw(usage_rows(month, last_day))
    # Statements are append-only and one per month: each example bills an organization of its own.
    org = make_org("Figures", f"{uuid.uuid4().hex[:12]}.test")
    store(org, month, rows)
    expected = expected_minutes(rows)
    client = client_for(org.users["finance"])
    params = {"from": month.isoformat(), "to": last_day.isoformat()}

    assert usage_page_totals(client, params)[0] == expected
    assert usage_page_totals(client, {**params, "granularity": "month"})[0] == expected
    for group_by in ("day", "month", "project"):
        api_params = {"date_from": month.isoformat(), "date_to": last_day.isoformat(), "group_by": group_by}
        assert api_totals(client, api_params) == expected

    issued = close_month(month, org.organization)
    if not any(expected.values()):
        assert issued == []  # no usage, no statement
        return
    (statement,) = issued
    lines = {line.tier: line.minutes for line in statement.lines.filter(kind="usage")}
    assert lines == expected
    assert_lines_add_up([line.amount for line in statement.lines.all()], statement.total)
    assert statement.total == price_month(expected, LIST_PRICES).total

    detail = client.get(f"/api/v1/statements/{statement.number}/").json()
    assert {line["tier"]: line["minutes"] for line in detail["lines"] if line["kind"] == "usage"} == expected
    assert Decimal(detail["total"]) == statement.total
    invoice = client.get(reverse("billing:invoice", args=[statement.number])).content.decode()
    assert f"{statement.total:,.2f}" in invoice
