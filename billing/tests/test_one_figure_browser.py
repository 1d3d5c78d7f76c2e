"""Browser walk of what a finance member checks: one figure on every page, and invoices that settle.

Usage page total = bill estimate minutes = usage alert figure = API figure, for this month so far. Then an
invoice paid exactly shows Paid and the overview shows nothing due; an invoice paid by half shows the
other half due. Screenshots land in var/screenshots/figures-*.png.
"""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.closing import close_month
from conftest import label, sign_in
from console.dates import previous_month
from usage.models import DailyUsage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def number(text: str) -> int:
    return int(re.sub(r"[^0-9]", "", text))


def add_month_to_date_usage(org) -> None:
    """Uneven seconds in two projects on every day so far, so that rounding per project and day shows."""
    today = timezone.now().date()
    day = today.replace(day=1)
    while day <= today:
        offset = day.day
        DailyUsage.objects.create(project=org.projects[0], date=day, audio=600_061 + offset, video_hd=3_601)
        DailyUsage.objects.create(project=org.projects[1], date=day, audio=59, video_hd_plus=31, video_2k=7_201)
        day += timedelta(days=1)


def issue(org, month, minutes_of_2k: int):
    DailyUsage.objects.create(project=org.projects[0], date=month.replace(day=10), video_2k=minutes_of_2k * 60)
    [statement] = close_month(month, org.organization)
    return statement


def test_one_figure_on_every_page_and_invoices_that_settle(live_server, acme, new_page, shoot):
    from playwright.sync_api import expect

    add_month_to_date_usage(acme)
    base = live_server.url
    page = new_page()
    sign_in(page, base, acme.users["finance"].email)
    overview_minutes = number(page.get_by_test_id("usage-month-minutes").inner_text())

    # The usage page for the current billing cycle: its total row.
    page.goto(f"{base}/usage/?period=cycle")
    total_row = page.locator("table.usage-table tfoot tr")
    usage_minutes = number(total_row.locator("td").last.inner_text())
    shoot(page, "figures-01-usage")

    # The bill estimate: the minutes of its lines.
    page.goto(f"{base}/billing/estimate/")
    line_minutes = (
        page.locator("table.changelist tbody tr")
        .filter(has_text="Video")
        .or_(page.locator("table.changelist tbody tr").filter(has_text="Audio"))
    )
    estimate_minutes = sum(number(row.locator("td").nth(1).inner_text()) for row in line_minutes.all())
    estimate_total = page.get_by_test_id("estimate-total").inner_text()
    shoot(page, "figures-02-estimate")

    # The usage alerts page, and the API, read with the same session.
    page.goto(f"{base}/billing/alerts/")
    alert_minutes = number(page.get_by_test_id("minutes-so-far").inner_text())
    api = page.request.get(f"{base}/api/v1/billing/estimate/").json()
    usage_api = page.request.get(f"{base}/api/v1/usage/summary/").json()

    assert usage_minutes == estimate_minutes == alert_minutes == overview_minutes > 0
    assert api["total_minutes"] == usage_api["total"]["total_minutes"] == usage_minutes
    assert estimate_total == f"USD {Decimal(api['total']):.2f}"
    expect(page.get_by_test_id("amount-so-far")).to_have_text(estimate_total)

    # An invoice paid exactly: Paid, and nothing due on the overview.
    older = issue(acme, previous_month(previous_month(timezone.now().date())), 11_000)  # USD 15.99
    page.goto(f"{base}/billing/payments/new/")
    choice = page.get_by_label(label("Apply to invoice")).locator("option").filter(has_text=older.number)
    page.get_by_label(label("Apply to invoice")).select_option(choice.get_attribute("value"))
    page.get_by_label(label("Amount (USD)")).fill(f"{older.total}")
    page.get_by_label(label("Payment method")).select_option("bank_transfer")
    page.get_by_label(label("Reference")).fill("EXACT-1")
    page.get_by_role("button", name="Record payment").click()
    expect(page.get_by_test_id("amount-due")).to_have_text("Nothing due")
    invoices = page.get_by_role("region", name="Invoices")
    expect(invoices.get_by_role("row").filter(has_text=older.number)).to_contain_text("Paid")
    shoot(page, "figures-03-paid-exactly")
    page.goto(f"{base}/billing/invoices/{older.number}/")
    expect(page.locator(".invoice-facts")).to_contain_text("Paid")
    expect(page.get_by_test_id("invoice-amount-due")).to_have_text("USD 0.00")
    expect(page.get_by_role("region", name="Payments")).to_contain_text("EXACT-1")

    # An invoice paid by half: the other half due.
    newer = issue(acme, previous_month(timezone.now().date()), 12_000)  # USD 31.98
    half = newer.total / 2
    page.goto(f"{base}/billing/payments/new/")
    page.get_by_label(label("Amount (USD)")).fill(f"{half:.2f}")
    page.get_by_label(label("Payment method")).select_option("bank_transfer")
    page.get_by_label(label("Reference")).fill("HALF-1")
    page.get_by_role("button", name="Record payment").click()
    expect(page.get_by_test_id("amount-due")).to_have_text(f"USD {newer.total - half:.2f}")
    status = "Partially paid" if timezone.now().date() <= newer.due_date else "Overdue"
    expect(invoices.get_by_role("row").filter(has_text=newer.number)).to_contain_text(status)
    page.goto(f"{base}/billing/invoices/{newer.number}/")
    expect(page.get_by_test_id("invoice-amount-due")).to_have_text(f"USD {newer.total - half:.2f}")
    shoot(page, "figures-04-paid-half")
