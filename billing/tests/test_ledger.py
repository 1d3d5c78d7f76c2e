"""The ledger: balance, deductions on the due date, standing (from the overdue statements), suspension and its lift."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from accounts.models import AuditEntry
from billing import ledger, settlement
from billing.closing import close_month
from billing.ledger import ARREARS, GOOD, SUSPENDED, standing_from
from billing.models import Transaction
from billing.settlement import Bill, Funds, settle
from conftest import member
from console.refusals import Immutable, RuleViolation
from projects.models import Project
from projects.services import check_can_issue_tokens
from usage.models import DailyUsage

D = Decimal
OCTOBER = date(2026, 10, 1)
DUE = date(2026, 11, 6)


def test_standing_follows_the_oldest_overdue_statement():
    due = date(2026, 11, 6)
    october = Bill(1, "INV-202610-0001", OCTOBER, date(2026, 11, 1), due, D("10.00"))
    november = Bill(2, "INV-202611-0002", date(2026, 11, 1), date(2026, 12, 1), date(2026, 12, 6), D("4.00"))

    def standing(entries, today):
        return standing_from(D("0.00"), settle([october, november], entries, today))

    assert standing_from(D("0.00"), settle([], [], due)) == ledger.Standing(D("0.00"), GOOD, None, None)
    assert standing([], due).status == GOOD  # due today: not overdue yet
    arrears = standing([], due + timedelta(days=1))
    assert (arrears.status, arrears.overdue_invoice, arrears.overdue_amount) == (ARREARS, october.number, D("10.00"))
    suspended = standing([], due + timedelta(days=5))
    assert (suspended.status, suspended.overdue_since, suspended.suspend_on) == (SUSPENDED, due, date(2026, 11, 11))
    # Still suspended after a partial payment; paid in full, good again, whatever the balance says.
    part = [Funds(10, date(2026, 11, 12), D("6.00"), "Payment part")]
    assert standing(part, date(2026, 11, 12)).status == SUSPENDED
    paid = [*part, Funds(11, date(2026, 11, 12), D("4.00"), "Payment rest")]
    assert standing(paid, date(2026, 11, 12)).status == GOOD
    # The next statement unpaid after its own due date: the grace period counts from its due date.
    later = standing(paid, date(2026, 12, 8))
    assert (later.status, later.overdue_invoice, later.suspend_on) == (ARREARS, november.number, date(2026, 12, 11))
    # A debit takes back what paid October: October is overdue again, and for more than 5 days.
    debit = [*paid, Funds(12, date(2026, 11, 20), D("-1.00"), "Debit: fee")]
    reopened = standing(debit, date(2026, 11, 20))
    assert (reopened.status, reopened.overdue_invoice, reopened.overdue_amount) == (
        SUSPENDED,
        october.number,
        D("1.00"),
    )
    # With nothing paid to take back, it is owed on no statement, due at once.
    owed = standing_from(D("-1.00"), settle([], debit[-1:], date(2026, 11, 20)))
    assert (owed.status, owed.overdue_invoice, owed.overdue_since, owed.suspend_on, owed.overdue_amount) == (
        ARREARS,
        "",
        date(2026, 11, 20),
        date(2026, 11, 25),
        D("1.00"),
    )


@pytest.fixture
def october_statement(acme):
    """Acme's October statement: 10,000 billable audio minutes, 9.90 USD, due November 6."""
    DailyUsage.objects.create(project=acme.projects[0], date=date(2026, 10, 3), audio=20_000 * 60)
    [statement] = close_month(OCTOBER, acme.organization, today=date(2026, 11, 1))
    return statement


def test_a_statement_is_deducted_on_its_due_date_once(acme, october_statement):
    assert ledger.deduct_due_statements(today=DUE - timedelta(days=1)) == 0
    assert ledger.deduct_due_statements(today=DUE) == 1
    assert ledger.deduct_due_statements(today=DUE + timedelta(days=1)) == 0
    [deduction] = Transaction.objects.filter(organization=acme.organization)
    assert (deduction.kind, deduction.amount, deduction.occurred_on, deduction.statement) == (
        "deduction",
        D("-9.90"),
        DUE,
        october_statement,
    )
    assert ledger.standing(acme.organization, DUE).balance == D("-9.90")
    # Deductions move the balance, not money: the statement is still unpaid, and overdue after DUE.
    [account] = settlement.settle_organization(acme.organization, DUE + timedelta(days=1)).statements
    assert (account.status, account.amount_due) == ("overdue", D("9.90"))


def test_a_prepaid_balance_covers_the_statement(acme, october_statement):
    finance = acme.users["finance"]
    ledger.record_payment(
        member(finance, acme.organization), amount=D("20.00"), method="card", occurred_on=date(2026, 10, 1)
    )
    ledger.deduct_due_statements(today=DUE + timedelta(days=30))
    acme.organization.refresh_from_db()
    assert ledger.standing(acme.organization).balance == D("10.10") and not acme.organization.is_suspended
    [account] = settlement.settle_organization(acme.organization).statements
    assert (account.statement_id, account.status, account.paid_at) == (
        october_statement.pk,
        "paid",
        october_statement.issued_at.date(),
    )


def test_unpaid_five_days_after_the_due_date_suspends_until_paid(acme, october_statement):
    ledger.deduct_due_statements(today=DUE + timedelta(days=4))
    acme.organization.refresh_from_db()
    assert not acme.organization.is_suspended
    ledger.deduct_due_statements(today=DUE + timedelta(days=5))  # the daily job
    organization = acme.organization
    organization.refresh_from_db()
    assert organization.is_suspended
    assert organization.suspended_reason == (
        f"Invoice {october_statement.number}, due on 2026-11-06, is still unpaid more than 5 days later."
    )
    with pytest.raises(RuleViolation, match="suspended"):
        check_can_issue_tokens(Project.objects.get(pk=acme.projects[0].pk))
    finance = acme.users["finance"]
    ledger.record_payment(member(finance, organization), amount=D("5.00"), method="bank_transfer", reference="part")
    organization.refresh_from_db()
    assert organization.is_suspended  # 4.90 still due
    ledger.record_payment(member(finance, organization), amount=D("4.90"), method="bank_transfer", reference="rest")
    organization.refresh_from_db()
    assert not organization.is_suspended and organization.suspended_reason == ""
    check_can_issue_tokens(Project.objects.get(pk=acme.projects[0].pk))
    actions = list(AuditEntry.objects.filter(action__startswith="billing.").values_list("action", flat=True))
    assert {"billing.suspended", "billing.suspension_lifted", "billing.payment_recorded"} <= set(actions)


def test_corrections_need_a_reason_and_move_the_balance_their_way(acme):
    finance = acme.users["finance"]
    ledger.record_payment(member(finance, acme.organization), amount=D("100.00"), method="paypal")
    ledger.record_correction(member(finance, acme.organization), correction="refund", amount=D("30"), reason="Overpaid")
    ledger.record_correction(member(finance, acme.organization), correction="debit", amount=D("5"), reason="Bank fee")
    ledger.record_correction(
        member(finance, acme.organization), correction="credit", amount=D("1.5"), reason="Goodwill"
    )
    assert ledger.standing(acme.organization).balance == D("66.50")
    with pytest.raises(RuleViolation, match="reason"):
        ledger.record_correction(member(finance, acme.organization), correction="refund", amount=D("1"), reason="  ")
    assert Transaction.objects.filter(organization=acme.organization).count() == 4


@pytest.mark.parametrize(
    ("amount", "method", "day", "message"),
    [
        (D("0"), "card", None, "positive"),
        (D("-5"), "card", None, "positive"),
        (D("1.001"), "card", None, "two decimals"),
        (D("NaN"), "card", None, "positive"),
        (D("5"), "cheque", None, "method"),
        (D("5"), "card", timezone.now().date() + timedelta(days=1), "future"),
    ],
)
def test_bad_payments_are_refused_and_nothing_is_written(acme, amount, method, day, message):
    with pytest.raises(RuleViolation, match=message):
        ledger.record_payment(
            member(acme.users["finance"], acme.organization), amount=amount, method=method, occurred_on=day
        )
    assert not Transaction.objects.exists()


def test_ledger_entries_cannot_be_edited_or_deleted(acme):
    entry = ledger.record_payment(member(acme.users["finance"], acme.organization), amount=D("10"), method="card")
    entry.amount = D("1000")
    with pytest.raises(Immutable):
        entry.save()
    with pytest.raises(Immutable):
        entry.delete()
    with pytest.raises(Immutable), transaction.atomic():
        Transaction.objects.filter(pk=entry.pk).delete()
    assert Transaction.objects.get(pk=entry.pk).amount == D("10.00")


def test_another_organizations_ledger_is_its_own(acme, globex, october_statement):
    ledger.record_payment(member(globex.users["finance"], globex.organization), amount=D("10"), method="card")
    ledger.deduct_due_statements(today=DUE + timedelta(days=10))
    globex.organization.refresh_from_db()
    acme.organization.refresh_from_db()
    assert ledger.standing(globex.organization).balance == D("10.00") and not globex.organization.is_suspended
    assert acme.organization.is_suspended
