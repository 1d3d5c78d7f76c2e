"""Browser test of the billing pages: Debian's chromium driven by Playwright against the live server.

The Acme Finance member signs in through the real form while Acme is suspended for January's unpaid
invoice, reads the billing overview and the bill estimate, exports the invoice list, opens the invoice,
looks at its print layout, downloads its PDF, and records the payment that lifts the suspension.
Screenshots land in var/screenshots/billing-*.png.
"""

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from billing import ledger
from billing.closing import close_month
from billing.models import BillingProfile
from billing.tests.pdf_text import inflated, shown_text
from conftest import PASSWORD, label
from usage.models import DailyUsage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def suspended_for_january(org):
    """January 2026: 11,000 min of 2K = USD 15.99, deducted on Feb 6, unpaid, suspended from Feb 11."""
    DailyUsage.objects.create(project=org.projects[0], date=date(2026, 1, 10), video_2k=11_000 * 60)
    [statement] = close_month(date(2026, 1, 1), org.organization, today=date(2026, 2, 2))
    ledger.deduct_due_statements(today=date(2026, 2, 6))
    ledger.deduct_due_statements(today=date(2026, 2, 12))
    return statement


def pdf_text(content: bytes) -> str:
    """The page text of a PDF whose streams are Flate-compressed (as the download is)."""
    return " ".join(shown_text(inflated(content)))


def test_finance_reads_the_bills_downloads_an_invoice_and_records_a_payment(live_server, acme, new_page, shoot):
    from playwright.sync_api import expect

    BillingProfile.objects.create(
        organization=acme.organization, company_name="Acme Trading GmbH", address="Hauptstr. 1\n10115 Berlin"
    )
    statement = suspended_for_january(acme)
    DailyUsage.objects.create(project=acme.projects[1], date=timezone.now().date(), video_hd=14_000 * 60)
    base = live_server.url
    page = new_page()

    page.goto(f"{base}/accounts/login/")
    page.get_by_label(label("Email")).fill(acme.users["finance"].email)
    page.get_by_label(label("Password")).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(f"{base}/overview/")

    # The overview: balance in red, the reserved balance, the standing and the latest invoice.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Billing").click()
    expect(page.get_by_role("heading", name="Billing", exact=True)).to_be_visible()
    expect(page.get_by_test_id("available-balance")).to_have_text("USD -15.99")
    expect(page.get_by_test_id("reserved-balance")).to_have_text("USD 15.96")  # 4,000 billable HD minutes
    expect(page.get_by_role("alert")).to_contain_text("This organization is suspended")
    invoices = page.get_by_role("region", name="Invoices")
    expect(invoices.get_by_role("row").filter(has_text=statement.number)).to_contain_text("Overdue")
    expect(page.get_by_test_id("amount-due")).to_have_text("USD 15.99")
    shoot(page, "billing-01-overview-suspended")

    # The bill estimate.
    page.get_by_role("navigation", name="Billing sections").get_by_role("link", name="Bill estimate").click()
    expect(page.get_by_role("heading", name="Bill estimate")).to_be_visible()
    expect(page.get_by_text("USD 15.96").first).to_be_visible()
    shoot(page, "billing-02-estimate")

    # The invoice list and its CSV.
    page.get_by_role("navigation", name="Billing sections").get_by_role("link", name="Invoices").click()
    expect(page.get_by_role("row").filter(has_text=statement.number)).to_contain_text("USD")
    shoot(page, "billing-03-invoices")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    download = download_info.value
    assert download.suggested_filename == f"{acme.organization.slug}-invoices.csv"
    rows = list(csv.DictReader(Path(download.path()).read_text().splitlines()))
    assert [(row["invoice_number"], row["total"], row["status"]) for row in rows] == [
        (statement.number, "15.99", "overdue")
    ]

    # The invoice, on screen and as printed.
    page.get_by_role("link", name=statement.number).first.click()
    expect(page.get_by_role("heading", name="Invoice")).to_be_visible()
    expect(page.locator("address")).to_contain_text("Acme Trading GmbH")
    expect(page.locator("table.invoice-lines tfoot")).to_contain_text("USD 15.99")
    shoot(page, "billing-04-invoice")
    page.evaluate("window.print = () => { window.printed = true; }")  # no print dialog in a test
    page.get_by_role("button", name="Print").click()
    assert page.evaluate("window.printed") is True  # console.js wires the button (no inline onclick)
    page.emulate_media(media="print")
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    expect(page.get_by_role("button", name="Print")).to_be_hidden()
    shoot(page, "billing-05-invoice-print")
    page.emulate_media(media="screen")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download PDF").click()
    download = download_info.value
    assert download.suggested_filename == f"{statement.number}.pdf"
    content = Path(download.path()).read_bytes()
    assert content.startswith(b"%PDF-")
    text = pdf_text(content)
    assert statement.number in text and "USD 15.99" in text and "Acme Trading GmbH" in text

    # Recording the payment lifts the suspension.
    page.get_by_role("link", name="Billing", exact=True).first.click()
    page.get_by_role("link", name="Record a payment").first.click()
    expect(page.get_by_role("heading", name="Record a payment")).to_be_visible()
    page.get_by_label(label("Amount (USD)")).fill("20")
    page.get_by_label(label("Payment method")).select_option("bank_transfer")
    page.get_by_label(label("Reference")).fill("SEPA 2026-03")
    shoot(page, "billing-06-record-payment")
    page.get_by_role("button", name="Record payment").click()
    expect(page.get_by_role("status")).to_contain_text("The suspension is lifted")
    expect(page.get_by_test_id("available-balance")).to_have_text("USD 4.01")
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(invoices.get_by_role("row").filter(has_text=statement.number)).to_contain_text("Paid")
    expect(page.get_by_test_id("amount-due")).to_have_text("Nothing due")
    expect(page.get_by_test_id("credit-balance")).to_have_text("USD 4.01")
    shoot(page, "billing-07-payment-recorded")
    tabs = page.get_by_role("navigation", name="Billing sections")
    tabs.get_by_role("link", name="Transactions").click()
    expect(page.get_by_role("row").filter(has_text="SEPA 2026-03")).to_contain_text("+20.00")
    shoot(page, "billing-08-transactions")
    tabs.get_by_role("link", name="Billing details").click()
    expect(page.get_by_label(label("Company name"))).to_have_value("Acme Trading GmbH")
    shoot(page, "billing-09-details")
    acme.organization.refresh_from_db()
    assert not acme.organization.is_suspended
    assert ledger.standing(acme.organization).balance == Decimal("4.01")


def test_a_new_organization_sees_what_to_expect(live_server, acme, new_page, shoot):
    from playwright.sync_api import expect

    base = live_server.url
    page = new_page()
    page.goto(f"{base}/accounts/login/")
    page.get_by_label(label("Email")).fill(acme.users["admin"].email)
    page.get_by_label(label("Password")).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.goto(f"{base}/billing/")
    expect(page.get_by_test_id("available-balance")).to_have_text("USD 0.00")
    expect(page.get_by_role("region", name="Invoices")).to_contain_text("No invoices yet")
    expect(page.get_by_role("region", name="Transactions")).to_contain_text("No transactions yet")
    shoot(page, "billing-10-overview-empty")
    page.get_by_role("navigation", name="Billing sections").get_by_role("link", name="Invoices").click()
    expect(page.get_by_role("heading", name="No invoices yet")).to_be_visible()
    shoot(page, "billing-11-invoices-empty")
