"""The billing pages: overview, invoices, transactions, recording payments and corrections, billing details.

Statements are issued by the real month close and deducted by the real deduction job (with `today=` dates
in January-March 2026), so the pages are checked against what the ledger and the statements say.
"""

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEntry, Membership
from accounts.services import create_role
from billing import ledger
from billing.closing import close_month
from billing.estimate import month_to_date
from billing.forms import new_form_token
from billing.models import BillingProfile, Statement, Transaction
from conftest import member
from usage.models import DailyUsage

JANUARY, FEBRUARY = date(2026, 1, 1), date(2026, 2, 1)
NOT_BILLING = ("product_operation", "cs_maintenance", "engineer")


def issue(org, month: date, **seconds) -> Statement:
    """Usage on the 10th of `month`, then the month close on the 1st of the next month."""
    DailyUsage.objects.create(project=org.projects[0], date=month.replace(day=10), **seconds)
    [statement] = close_month(month, org.organization, today=month + timedelta(days=35))
    return statement


def january_statement(org) -> Statement:
    """11,000 min of 2K: 10,000 free, 1,000 billable x 15.99 per 1,000 = USD 15.99."""
    return issue(org, JANUARY, video_2k=11_000 * 60)


def suspended(org) -> Statement:
    """January's statement deducted on Feb 6 and unpaid: the organization is suspended since Feb 11."""
    statement = january_statement(org)
    ledger.deduct_due_statements(today=date(2026, 2, 6))
    ledger.deduct_due_statements(today=date(2026, 2, 12))
    org.organization.refresh_from_db()
    assert org.organization.is_suspended
    return statement


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def sent(data: dict) -> dict:
    """Form data as the payment and correction pages send it: with a fresh one-time form token."""
    return {**data, "form_token": new_form_token()}


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


# Overview -----------------------------------------------------------------------------------------


def test_the_overview_shows_balance_standing_and_the_latest_invoice(acme, client_for):
    statement = suspended(acme)
    ledger.record_payment(member(acme.users["finance"], acme.organization), amount=Decimal("5.00"), method="card")
    html = text(client_for(acme.users["finance"]).get(reverse("billing:overview")))
    assert ledger.standing(acme.organization).balance == Decimal("-10.99")
    assert "USD -10.99" in html and 'class="figure negative"' in html
    assert "Suspended since 2026-02-11" in html and "at least <strong>USD 10.99</strong>" in html
    assert statement.number in html and "January 2026" in html and "Overdue" in html
    assert "Amount due" in html and "Next due date: <strong>2026-02-06</strong>" in html
    assert reverse("billing:invoice", args=[statement.number]) in html
    assert "Statement deduction" in html and "Credit card" in html
    assert "Record a payment" in html and "View all invoices" in html and "View all transactions" in html


def test_the_reserved_balance_is_the_month_to_date_estimate(acme, client_for):
    DailyUsage.objects.create(project=acme.projects[1], date=timezone.now().date(), video_full_hd=12_345 * 60)
    estimate = month_to_date(acme.organization)
    assert estimate.priced.total > 0
    html = text(client_for(acme.users["finance"]).get(reverse("billing:overview")))
    assert f"USD {estimate.priced.total:,.2f}" in html
    assert reverse("billing:estimate") in html


def test_a_new_organization_sees_explaining_empty_states(acme, client_for):
    html = text(client_for(acme.users["admin"]).get(reverse("billing:overview")))
    assert "USD 0.00" in html and "In good standing" in html
    assert "No invoices yet" in html and "issued on the 1st of each month for the month before" in html
    assert "No transactions yet" in html
    assert "Add billing details" in html


def test_an_organization_in_arrears_is_told_when_it_will_be_suspended(acme, client_for):
    yesterday = timezone.now().date() - timedelta(days=1)
    ledger.record_correction(
        member(acme.users["finance"], acme.organization),
        correction="debit",
        amount=Decimal(3),
        reason="x",
        occurred_on=yesterday,
    )
    html = text(client_for(acme.users["finance"]).get(reverse("billing:overview")))
    suspend_on = yesterday + timedelta(days=ledger.GRACE_DAYS)
    assert "In arrears" in html and f"suspended on {suspend_on:%Y-%m-%d}" in html
    assert "Record a payment of at least <strong>USD 3.00</strong>" in html


def test_the_estimate_page_has_the_billing_tabs(acme, client_for):
    html = text(client_for(acme.users["finance"]).get(reverse("billing:estimate")))
    assert 'aria-label="Billing sections"' in html and 'aria-current="page">Bill estimate<' in html


# Invoices -----------------------------------------------------------------------------------------


@pytest.fixture
def paid_and_pending(acme):
    """January deducted and paid (20.00 received), February (7.98) issued, not deducted yet and part paid
    by the 4.01 left: overdue, since its due date (March 6) has passed."""
    january = january_statement(acme)
    ledger.deduct_due_statements(today=date(2026, 2, 6))
    ledger.record_payment(
        member(acme.users["finance"], acme.organization),
        amount=Decimal(20),
        method="bank_transfer",
        reference="=SUM(A1)",
    )
    february = issue(acme, FEBRUARY, video_hd=12_000 * 60)
    return january, february


def test_the_invoice_list_shows_status_and_filters_by_it(acme, client_for, paid_and_pending):
    january, february = paid_and_pending
    client = client_for(acme.users["finance"])
    html = text(client.get(reverse("billing:statements")))
    assert january.number in html and february.number in html
    assert "Paid" in html and "Overdue" in html and "2026-02-06" in html and "15.99" in html and "3.97" in html
    only_paid = text(client.get(reverse("billing:statements"), {"status": "paid"}))
    assert january.number in only_paid and february.number not in only_paid
    only_overdue = text(client.get(reverse("billing:statements"), {"status": "overdue"}))
    assert february.number in only_overdue and january.number not in only_overdue
    by_amount_due = text(client.get(reverse("billing:statements"), {"o": "amount_due"}))
    assert by_amount_due.index(january.number) < by_amount_due.index(february.number)


def test_the_invoice_csv_has_the_statements_of_the_page(acme, client_for, paid_and_pending):
    january, february = paid_and_pending
    client = client_for(acme.users["finance"])
    rows = csv_rows(client.get(reverse("billing:statements_csv")))
    assert [row["invoice_number"] for row in rows] == [february.number, january.number]
    assert rows[1] == {
        "invoice_number": january.number,
        "period_start": "2026-01-01",
        "period_end": "2026-01-31",
        "issue_date": f"{january.issued_at:%Y-%m-%d}",
        "due_date": "2026-02-06",
        "currency": "USD",
        "usage_total": "15.99",
        "adjustments_total": "0.00",
        "total": "15.99",
        "status": "paid",
        "amount_paid": "15.99",
        "amount_due": "0.00",
        "paid_at": f"{timezone.now():%Y-%m-%d}",  # the day of the payment
    }
    assert (rows[0]["status"], rows[0]["amount_paid"], rows[0]["amount_due"], rows[0]["paid_at"]) == (
        "overdue",
        "4.01",
        "3.97",
        "",
    )
    overdue = csv_rows(client.get(reverse("billing:statements_csv"), {"status": "overdue"}))
    assert [row["invoice_number"] for row in overdue] == [february.number]


def test_the_invoice_page_prints_the_statement_and_the_billing_details(acme, client_for):
    profile = BillingProfile.objects.create(
        organization=acme.organization,
        company_name="Acme Trading GmbH",
        address="Hauptstr. 1\n10115 Berlin",
        country="Germany",
        tax_id="DE123456789",
        billing_email="ap@acme.test",
    )
    statement = january_statement(acme)
    profile.company_name = "Acme Renamed AG"  # changed after the issue: the invoice keeps what it was issued with
    profile.save()
    html = text(client_for(acme.users["finance"]).get(reverse("billing:invoice", args=[statement.number])))
    for expected in ("Acme Trading GmbH", "Hauptstr. 1<br>10115 Berlin", "Tax ID: DE123456789", "ap@acme.test"):
        assert expected in html
    assert "Acme Renamed AG" not in html
    assert "2026-01-01 to 2026-01-31" in html and "2026-02-06" in html and "Overdue" in html
    assert "No payment applied yet" in html
    assert "11,000" in html and "10,000" in html and "1,000" in html and "15.99" in html
    assert "USD 15.99" in html
    # No band reached and nothing to round: neither a discount nor a rounding line.
    assert "Volume discount" not in html and "Rounding" not in html
    assert "data-print" in html and reverse("billing:invoice_pdf", args=[statement.number]) in html


def test_without_billing_details_the_invoice_is_made_out_to_the_organization(acme, client_for):
    statement = january_statement(acme)
    html = text(client_for(acme.users["admin"]).get(reverse("billing:invoice", args=[statement.number])))
    assert "<address>Acme</address>" in html and "Add billing details" in html


def test_late_usage_shows_as_an_adjustment_line(acme, client_for):
    january_statement(acme)
    DailyUsage.objects.create(project=acme.projects[1], date=date(2026, 1, 20), video_2k=1_000 * 60)  # late
    february = issue(acme, FEBRUARY, audio=60)
    html = text(client_for(acme.users["finance"]).get(reverse("billing:invoice", args=[february.number])))
    assert "Late usage of January 2026" in html and "15.99" in html
    assert february.total == Decimal("15.99")


def test_invoice_numbers_are_looked_up_in_the_members_own_organization(acme, globex, client_for):
    ours = january_statement(acme)
    theirs = issue(globex, JANUARY, video_2k=12_000 * 60)  # 2,000 billable: 31.98
    assert ours.number == theirs.number  # numbers are per organization
    html = text(client_for(acme.users["finance"]).get(reverse("billing:invoice", args=[ours.number])))
    assert "USD 15.99" in html and "31.98" not in html
    globex_html = text(client_for(globex.users["finance"]).get(reverse("billing:invoice", args=[ours.number])))
    assert "USD 31.98" in globex_html and "USD 15.99" not in globex_html
    missing = client_for(acme.users["finance"]).get(reverse("billing:invoice", args=["INV-202602-0001"]))
    assert missing.status_code == 404


# Transactions -------------------------------------------------------------------------------------


def test_the_transaction_list_filters_by_kind_and_date(acme, client_for, paid_and_pending):
    client = client_for(acme.users["finance"])
    html = text(client.get(reverse("billing:transactions")))
    assert "Statement deduction" in html and "-15.99" in html and "+20.00" in html
    assert "finance@acme.test" in html and "System" in html and "=SUM(A1)" in html
    payments = text(client.get(reverse("billing:transactions"), {"kind": "payment"}))
    assert "+20.00" in payments and "-15.99" not in payments
    february_6 = text(client.get(reverse("billing:transactions"), {"from": "2026-02-06", "to": "2026-02-06"}))
    assert "-15.99" in february_6 and "+20.00" not in february_6


def test_the_transaction_csv_has_numbers_and_inert_text(acme, client_for, paid_and_pending):
    january, _ = paid_and_pending
    rows = csv_rows(client_for(acme.users["finance"]).get(reverse("billing:transactions_csv")))
    by_kind = {row["kind"]: row for row in rows}
    assert by_kind["deduction"]["amount"] == "-15.99" and by_kind["deduction"]["invoice_number"] == january.number
    assert by_kind["deduction"]["date"] == "2026-02-06" and by_kind["deduction"]["recorded_by"] == ""
    payment = by_kind["payment"]
    assert payment["amount"] == "20.00" and payment["method"] == "bank_transfer"
    assert payment["reference"] == "'=SUM(A1)" and payment["recorded_by"] == "finance@acme.test"
    assert sum(Decimal(row["amount"]) for row in rows) == ledger.standing(acme.organization).balance


# Recording payments and corrections ---------------------------------------------------------------


def test_a_payment_lifts_the_suspension(acme, client_for):
    suspended(acme)
    client = client_for(acme.users["finance"])
    form = text(client.get(reverse("billing:record_payment")))
    assert (
        "Current balance: USD -15.99 (suspended). Amount due: USD 15.99. A payment of at least USD 15.99 pays what "
        "is overdue and lifts the suspension at once."
        in form
        and f'value="{timezone.now().date():%Y-%m-%d}"' in form
    )
    response = client.post(
        reverse("billing:record_payment"),
        sent({"amount": "20.00", "method": "bank_transfer", "reference": "TX-1", "occurred_on": "2026-03-01"}),
        follow=True,
    )
    html = text(response)
    assert "Payment of USD 20.00 recorded. The balance is now USD 4.01. The suspension is lifted" in html
    acme.organization.refresh_from_db()
    assert not acme.organization.is_suspended
    payment = Transaction.objects.get(organization=acme.organization, kind="payment")
    assert (payment.amount, payment.reference, payment.occurred_on) == (Decimal("20.00"), "TX-1", date(2026, 3, 1))
    assert payment.recorded_by == acme.users["finance"]
    assert AuditEntry.objects.filter(organization=acme.organization, action="billing.payment_recorded").exists()


def test_a_payment_too_small_says_the_suspension_holds(acme, client_for):
    suspended(acme)
    response = client_for(acme.users["admin"]).post(
        reverse("billing:record_payment"),
        sent({"amount": "1", "method": "card", "occurred_on": "2026-03-01"}),
        follow=True,
    )
    assert "The balance is now USD -14.99. The organization stays suspended" in text(response)


@pytest.mark.parametrize(
    "data, error",
    [
        ({"amount": "-5", "method": "card"}, "The amount must be more than zero."),
        ({"amount": "0", "method": "card"}, "The amount must be more than zero."),
        ({"amount": "1.005", "method": "card"}, "no more than 2 decimal places"),
        ({"amount": "abc", "method": "card"}, "Enter a number."),
        ({"amount": "5", "method": "cash"}, "Select a valid choice."),
        ({"amount": "5", "method": "card", "occurred_on": "2999-01-01"}, "The date cannot be in the future."),
        ({}, "This field is required."),
    ],
)
def test_bad_payments_are_refused_with_a_message(acme, client_for, data, error):
    data = {"occurred_on": f"{timezone.now().date():%Y-%m-%d}", **data}
    html = text(client_for(acme.users["finance"]).post(reverse("billing:record_payment"), data))
    assert error in html
    assert not Transaction.objects.exists()


def test_corrections_need_a_reason_and_take_their_sign_from_the_kind(acme, client_for):
    client = client_for(acme.users["finance"])
    url, today = reverse("billing:record_correction"), f"{timezone.now().date():%Y-%m-%d}"
    html = text(client.post(url, sent({"correction": "credit", "amount": "10", "reason": "  ", "occurred_on": today})))
    assert "Give the reason for this entry." in html and not Transaction.objects.exists()
    html = text(
        client.post(
            url, sent({"correction": "credit", "amount": "10", "reason": "Goodwill", "occurred_on": "2999-1-1"})
        )
    )
    assert "The date cannot be in the future." in html and not Transaction.objects.exists()
    for correction, amount in (("credit", "10"), ("refund", "4"), ("debit", "1.50")):
        response = client.post(
            url, sent({"correction": correction, "amount": amount, "reason": "Goodwill", "occurred_on": today})
        )
        assert response.status_code == 302 and response["Location"] == reverse("billing:transactions")
    amounts = {(entry.kind, entry.amount) for entry in Transaction.objects.all()}
    assert amounts == {("adjustment", Decimal("10.00")), ("refund", Decimal("-4.00")), ("adjustment", Decimal("-1.50"))}
    assert ledger.standing(acme.organization).balance == Decimal("4.50")
    html = text(client.get(reverse("billing:transactions")))
    assert "Goodwill" in html and "Refund" in html


def test_the_success_message_gives_the_new_balance(acme, client_for):
    response = client_for(acme.users["finance"]).post(
        reverse("billing:record_correction"),
        sent(
            {"correction": "debit", "amount": "2", "reason": "Fee", "occurred_on": f"{timezone.now().date():%Y-%m-%d}"}
        ),
        follow=True,
    )
    html = text(response)
    suspend_on = timezone.now().date() + timedelta(days=ledger.GRACE_DAYS)
    assert "Debit of USD 2.00 recorded. The balance is now USD -2.00." in html
    assert f"the organization will be suspended on {suspend_on:%Y-%m-%d}" in html


# Billing details ----------------------------------------------------------------------------------


def test_billing_details_are_created_on_first_save_then_updated_and_audited(acme, client_for):
    client = client_for(acme.users["finance"])
    url = reverse("billing:details")
    assert "Save billing details" in text(client.get(url))
    data = {
        "company_name": "Acme Ltd",
        "address": "1 Road\nTown",
        "country": "UK",
        "tax_id": "GB1",
        "billing_email": "",
    }
    assert client.post(url, data).status_code == 302
    profile = BillingProfile.objects.get(organization=acme.organization)
    assert (profile.company_name, profile.address, profile.tax_id) == ("Acme Ltd", "1 Road\nTown", "GB1")
    assert client.post(url, {**data, "country": "United Kingdom"}).status_code == 302
    assert BillingProfile.objects.get(organization=acme.organization).country == "United Kingdom"
    entries = AuditEntry.objects.filter(organization=acme.organization, action="billing.details_changed")
    assert [entry.details["fields"] for entry in entries.order_by("id")] == [
        ["company_name", "address", "country", "tax_id"],
        ["country"],
    ]
    assert "Acme Ltd" in text(client.get(reverse("billing:overview")))


def test_billing_details_check_the_email(acme, client_for):
    html = text(client_for(acme.users["finance"]).post(reverse("billing:details"), {"billing_email": "nope"}))
    assert "Enter a valid email address." in html and not BillingProfile.objects.exists()


# Permissions --------------------------------------------------------------------------------------

TODAY = f"{timezone.now().date():%Y-%m-%d}"
WRITES = {
    "billing:record_payment": {"amount": "50", "method": "card", "occurred_on": TODAY},
    "billing:record_correction": {"correction": "credit", "amount": "5", "reason": "x", "occurred_on": TODAY},
    "billing:details": {"company_name": "Hijacked"},
}


@pytest.mark.parametrize("who", NOT_BILLING)
def test_roles_without_billing_cannot_write_anything(acme, client_for, who):
    client = client_for(acme.users[who])
    for name, data in WRITES.items():
        assert client.post(reverse(name), data).status_code == 403, name
    assert client.get(reverse("billing:overview")).status_code == 403
    assert not Transaction.objects.exists() and not BillingProfile.objects.exists()


def test_billing_viewers_read_but_cannot_record(acme, client_for):
    role = create_role(acme.membership("admin"), name="Auditor", levels={"billing": "view"})
    Membership.objects.filter(user=acme.users["engineer"], organization=acme.organization).update(role=role)
    client = client_for(acme.users["engineer"])
    html = text(client.get(reverse("billing:overview")))
    assert "Available balance" in html and "Record a payment" not in html and "Add billing details" not in html
    for name, data in WRITES.items():
        assert client.get(reverse(name)).status_code == 403, name
        assert client.post(reverse(name), data).status_code == 403, name
    assert not Transaction.objects.exists() and not BillingProfile.objects.exists()


def test_the_payment_and_admin_roles_both_record(acme, client_for):
    for who in ("admin", "finance"):
        response = client_for(acme.users[who]).post(
            reverse("billing:record_payment"), sent(WRITES["billing:record_payment"])
        )
        assert response.status_code == 302
    assert Transaction.objects.filter(kind="payment").count() == 2


def test_finance_cannot_see_certificates(acme, client_for):
    project = acme.projects[0]
    secret = project.primary.value
    response = client_for(acme.users["finance"]).get(reverse("projects:detail", args=[project.project_id]))
    assert response.status_code == 403 and secret not in response.content.decode()


def test_the_console_overview_shows_the_billing_card_to_billing_roles_only(acme, client_for):
    ledger.record_payment(member(acme.users["finance"], acme.organization), amount=Decimal("1234.50"), method="card")
    finance = text(client_for(acme.users["finance"]).get(reverse("overview")))
    assert "Available balance" in finance and "1,234.50" in finance and "In good standing" in finance
    engineer = text(client_for(acme.users["engineer"]).get(reverse("overview")))
    assert "Available balance" not in engineer and "1,234.50" not in engineer
