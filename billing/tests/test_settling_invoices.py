"""Payments settle invoices, as the pages, the PDF and the API show it, and the standing that follows.

Statements are written directly with the dates each test needs (issue date, due date relative to today),
because the month close stamps them with the real time of the close.
"""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from billing import ledger, settlement
from billing.closing import close_month
from billing.forms import new_form_token
from billing.invoice_pdf import invoice_pdf_bytes
from billing.models import PriceBook, Statement, Transaction, invoice_number
from billing.tests.pdf_text import shown_text
from conftest import member
from console.refusals import RuleViolation
from console.tests.api_helpers import Api
from projects.models import Project
from projects.services import check_can_issue_tokens
from usage.models import DailyUsage

D = Decimal
TODAY = timezone.now().date()
STATEMENTS_API = "/api/v1/statements/"


def bill(org, month: date, total: str, *, issued_on: date, due_date: date) -> Statement:
    """A statement of `total` for `month`, issued on `issued_on` and due on `due_date`."""
    sequence = Statement.objects.filter(organization=org.organization).count() + 1
    return Statement.objects.create(
        organization=org.organization,
        month=month,
        sequence=sequence,
        number=invoice_number(month, sequence),
        price_book=PriceBook.book_for(org.organization, month),
        currency="USD",
        issued_at=datetime.combine(issued_on, time(6), tzinfo=UTC),
        due_date=due_date,
        usage_seconds={},
        total_minutes=0,
        usage_total=D(total),
        adjustments_total=D(0),
        total=D(total),
    )


def not_due_yet(org, total: str, month: date = date(2026, 1, 1)) -> Statement:
    """Issued 10 days ago, due in 5 days."""
    return bill(org, month, total, issued_on=TODAY - timedelta(days=10), due_date=TODAY + timedelta(days=5))


def pay(org, amount: str, *, day: date = TODAY, statement: Statement | None = None, reference: str = ""):
    return ledger.record_payment(
        org.membership("finance"),
        amount=D(amount),
        method="bank_transfer",
        reference=reference,
        occurred_on=day,
        statement=statement,
    )


def page(client, name: str, *args) -> str:
    response = client.get(reverse(name, args=args))
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def api_statement(org, client, number: str) -> dict:
    response = Api(client, org.membership("finance")).get(f"{STATEMENTS_API}{number}/")
    assert response.status_code == 200
    return response.json()


def pdf_of(statement: Statement) -> list[str]:
    account = settlement.settle_organization(statement.organization).of(statement.pk)
    return shown_text(invoice_pdf_bytes(statement, None, account=account, compress=False))


def test_paying_exactly_an_invoice_shows_it_paid_everywhere(acme, client, client_for):
    statement = not_due_yet(acme, "15.99")
    finance = client_for(acme.users["finance"])
    response = finance.post(
        reverse("billing:record_payment"),
        {
            "amount": "15.99",
            "method": "bank_transfer",
            "reference": "BANK-REF-1",
            "occurred_on": f"{TODAY:%Y-%m-%d}",
            "form_token": new_form_token(),
        },
        follow=True,
    )
    assert "Nothing is due." in response.content.decode()
    html = page(finance, "billing:invoice", statement.number)
    assert 'class="status status-paid"' in html and "Partially paid" not in html
    assert 'data-testid="invoice-amount-due">USD 0.00<' in html
    assert f"<dt>Paid on</dt><dd>{TODAY:%Y-%m-%d}</dd>" in html
    assert "Payment BANK-REF-1" in html and "No payment applied yet" not in html
    text = pdf_of(statement)
    assert text[text.index("Status") + 1] == "Paid" and text[text.index("Amount due") + 1] == "USD 0.00"
    assert text[text.index("Paid on") + 1] == f"{TODAY:%Y-%m-%d}" and "Payment BANK-REF-1" in text
    body = api_statement(acme, client, statement.number)
    assert (body["status"], body["amount_paid"], body["amount_due"], body["paid_at"]) == (
        "paid",
        "15.99",
        "0.00",
        f"{TODAY:%Y-%m-%d}",
    )
    overview = page(finance, "billing:overview")
    assert 'data-testid="amount-due">Nothing due<' in overview


def test_paying_half_leaves_the_other_half_due(acme, client, client_for):
    statement = not_due_yet(acme, "31.98")
    pay(acme, "15.99")
    html = page(client_for(acme.users["finance"]), "billing:invoice", statement.number)
    assert "Partially paid" in html and 'data-testid="invoice-amount-due">USD 15.99<' in html
    assert "<dt>Paid on</dt>" not in html
    body = api_statement(acme, client, statement.number)
    assert (body["status"], body["amount_paid"], body["amount_due"], body["paid_at"]) == (
        "partially_paid",
        "15.99",
        "15.99",
        None,
    )
    overview = page(client_for(acme.users["finance"]), "billing:overview")
    assert 'data-testid="amount-due">USD 15.99<' in overview
    assert f"Next due date: <strong>{TODAY + timedelta(days=5):%Y-%m-%d}</strong>" in overview


def test_a_payment_pays_the_oldest_invoice_first_or_the_one_picked_in_the_form(acme, client_for):
    january = not_due_yet(acme, "15.99", date(2026, 1, 1))
    february = not_due_yet(acme, "7.98", date(2026, 2, 1))
    pay(acme, "10.00")
    settled = settlement.settle_organization(acme.organization)
    assert [(each.number, each.paid) for each in settled.statements] == [
        (january.number, D("10.00")),
        (february.number, D("0.00")),
    ]
    finance = client_for(acme.users["finance"])
    form = page(finance, "billing:record_payment")
    assert "Apply to invoice" in form and "Oldest due first" in form
    assert f"{january.number}: USD 5.99 due" in form and f"{february.number}: USD 7.98 due" in form
    response = finance.post(
        reverse("billing:record_payment"),
        {
            "amount": "10.00",
            "method": "card",
            "statement": str(february.pk),
            "occurred_on": f"{TODAY:%Y-%m-%d}",
            "form_token": new_form_token(),
        },
    )
    assert response.status_code == 302
    assert Transaction.objects.get(organization=acme.organization, method="card").statement == february
    settled = settlement.settle_organization(acme.organization)
    assert [(each.number, each.paid, each.status) for each in settled.statements] == [
        (january.number, D("12.02"), settlement.PARTIALLY_PAID),
        (february.number, D("7.98"), settlement.PAID),
    ]
    assert f"{february.number}:" not in page(finance, "billing:record_payment")  # nothing due on it any more


def test_prepaid_credit_pays_the_statement_at_issue_and_the_rest_carries_over(acme, client_for):
    pay(acme, "20.00", day=TODAY - timedelta(days=1), reference="PREPAID")  # the close below issues today
    DailyUsage.objects.create(project=acme.projects[0], date=date(2026, 1, 10), video_2k=11_000 * 60)
    [statement] = close_month(date(2026, 1, 1), acme.organization)  # USD 15.99, issued now
    settled = settlement.settle_organization(acme.organization)
    [account] = settled.statements
    assert (account.status, account.paid_at, settled.credit) == ("paid", TODAY, D("4.01"))
    assert [(each.amount, each.source) for each in account.history] == [(D("15.99"), "Credit balance")]
    overview = page(client_for(acme.users["finance"]), "billing:overview")
    assert 'data-testid="credit-balance">USD 4.01<' in overview and "Nothing due" in overview
    html = page(client_for(acme.users["finance"]), "billing:invoice", statement.number)
    assert "Credit balance" in html and "+15.99" in html


def test_a_refund_reopens_the_newest_paid_invoice_until_a_later_payment(acme, client_for):
    issued = TODAY - timedelta(days=20)
    january = bill(acme, date(2026, 1, 1), "15.99", issued_on=issued, due_date=TODAY + timedelta(days=5))
    february = bill(acme, date(2026, 2, 1), "7.98", issued_on=issued, due_date=TODAY + timedelta(days=5))
    pay(acme, "23.97", day=TODAY - timedelta(days=3), reference="BOTH")
    ledger.record_correction(
        member(acme.users["finance"], acme.organization),
        correction="refund",
        amount=D("5.00"),
        reason="Goodwill",
        occurred_on=TODAY - timedelta(days=2),
    )
    settled = settlement.settle_organization(acme.organization)
    assert [(each.number, each.status, each.amount_due) for each in settled.statements] == [
        (january.number, "paid", D("0.00")),
        (february.number, "partially_paid", D("5.00")),
    ]
    finance = client_for(acme.users["finance"])
    html = page(finance, "billing:invoice", february.number)
    assert "Refund: Goodwill" in html and "-5.00" in html and "(taken back)" in html
    pay(acme, "5.00", reference="AGAIN")
    account = settlement.settle_organization(acme.organization).of(february.pk)
    assert (account.status, account.paid_at) == ("paid", TODAY)
    assert [each.amount for each in account.history] == [D("7.98"), D("-5.00"), D("5.00")]


def test_an_overdue_invoice_suspends_five_days_after_its_due_date_and_a_payment_lifts_it(acme, client, client_for):
    due = TODAY - timedelta(days=10)
    statement = bill(acme, date(2026, 1, 1), "15.99", issued_on=due - timedelta(days=5), due_date=due)
    organization = acme.organization
    ledger.refresh_standing(organization, due)
    assert ledger.standing(organization, due).status == ledger.GOOD  # due today, not overdue yet
    arrears = ledger.refresh_standing(organization, due + timedelta(days=4))
    organization.refresh_from_db()
    assert (arrears.status, arrears.suspend_on, organization.is_suspended) == (
        ledger.ARREARS,
        due + timedelta(days=5),
        False,
    )
    ledger.refresh_standing(organization, due + timedelta(days=5))
    organization.refresh_from_db()
    assert organization.is_suspended and statement.number in organization.suspended_reason
    finance = client_for(acme.users["finance"])
    assert "Overdue" in page(finance, "billing:invoice", statement.number)
    assert api_statement(acme, client, statement.number)["status"] == "overdue"
    overview = page(finance, "billing:overview")
    assert f'invoice <a href="{reverse("billing:invoice", args=[statement.number])}">{statement.number}</a>' in (
        overview
    )
    assert f"was due on {due:%Y-%m-%d}" in overview and "at least <strong>USD 15.99</strong>" in overview
    pay(acme, "15.99")
    organization.refresh_from_db()
    assert not organization.is_suspended
    check_can_issue_tokens(Project.objects.get(pk=acme.projects[0].pk))


def test_an_invoice_of_another_organization_cannot_be_picked(acme, globex, client_for):
    theirs = not_due_yet(globex, "31.98")
    with pytest.raises(RuleViolation, match="invoice of this organization"):
        pay(acme, "10.00", statement=theirs)
    response = client_for(acme.users["finance"]).post(
        reverse("billing:record_payment"),
        {
            "amount": "10.00",
            "method": "card",
            "statement": str(theirs.pk),
            "occurred_on": f"{TODAY:%Y-%m-%d}",
            "form_token": new_form_token(),
        },
    )
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not Transaction.objects.exists()


def test_the_statements_api_shows_the_callers_organization_only(acme, globex, client):
    ours = not_due_yet(acme, "15.99", date(2026, 3, 1))
    not_due_yet(globex, "31.98", date(2026, 1, 1))
    pay(globex, "31.98")
    api = Api(client, globex.membership("finance"))
    rows = api.get(STATEMENTS_API).json()["results"]
    assert [(row["period_start"], row["status"], row["amount_due"]) for row in rows] == [("2026-01-01", "paid", "0.00")]
    assert api.get(f"{STATEMENTS_API}{ours.number}/").status_code == 404
