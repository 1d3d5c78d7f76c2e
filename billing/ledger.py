"""The ledger of an organization: balance, account standing, and the entries that change them.

Balance = the sum of the ledger. Standing follows the reference: when the balance is negative it is in
arrears; when it is still negative 5 days after the day it went negative (a statement's due date, as a
rule) the organization is suspended until the balance is back to >= 0. Billing writes the verdict on the
organization (`suspended_at`, `suspended_reason`); tokens and projects only read it.

Every entry is a new `Transaction` (append-only) written under the organization's row lock, with an
audit entry, followed by a fresh look at the standing, so recording a payment lifts a suspension at once.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts import audit
from accounts.models import Organization
from accounts.services import RuleViolation

from .models import Statement, Transaction

audit.register_actions(
    {
        "billing.payment_recorded": "Payment recorded",
        "billing.refund_recorded": "Refund recorded",
        "billing.adjustment_recorded": "Balance adjustment recorded",
        "billing.statement_deducted": "Statement deducted from the balance",
        "billing.suspended": "Organization suspended for an unpaid balance",
        "billing.suspension_lifted": "Suspension lifted",
    }
)

GRACE_DAYS = 5
GOOD, ARREARS, SUSPENDED = "good_standing", "arrears", "suspended"
STATUS_LABELS = {GOOD: "In good standing", ARREARS: "In arrears", SUSPENDED: "Suspended"}


@dataclass(frozen=True)
class Standing:
    balance: Decimal
    status: str
    negative_since: date | None  # the day the balance last went below zero, while it still is
    suspend_on: date | None  # negative_since + 5 days

    @property
    def label(self) -> str:
        return STATUS_LABELS[self.status]


def standing_of(entries: Iterable[tuple[date, Decimal]], today: date) -> Standing:
    """Standing from (value date, amount) ledger entries in ledger order (value date, then entry order)."""
    balance, negative_since = Decimal("0.00"), None
    for occurred_on, amount in entries:
        was_negative = balance < 0
        balance += amount
        if balance < 0 and not was_negative:
            negative_since = occurred_on
        elif balance >= 0:
            negative_since = None
    if negative_since is None:
        return Standing(balance, GOOD, None, None)
    suspend_on = negative_since + timedelta(days=GRACE_DAYS)
    return Standing(balance, SUSPENDED if today >= suspend_on else ARREARS, negative_since, suspend_on)


def ledger_entries(organization: Organization):
    return Transaction.objects.filter(organization=organization).order_by("occurred_on", "id")


def standing(organization: Organization, today: date | None = None) -> Standing:
    entries = ledger_entries(organization).values_list("occurred_on", "amount")
    return standing_of(entries, today or timezone.now().date())


def refresh_standing(organization: Organization, today: date | None = None) -> Standing:
    """Write the standing's verdict on the organization: suspend or lift. Call under the organization's lock."""
    today = today or timezone.now().date()
    current = standing(organization, today)
    if current.status == SUSPENDED and not organization.is_suspended:
        organization.suspended_at = datetime.combine(current.suspend_on, time.min, tzinfo=UTC)
        organization.suspended_reason = (
            f"The balance has been negative since {current.negative_since:%Y-%m-%d}, more than {GRACE_DAYS} days."
        )
        organization.save(update_fields=["suspended_at", "suspended_reason"])
        audit.record("billing.suspended", organization=organization, balance=str(current.balance))
    elif current.status != SUSPENDED and organization.is_suspended:
        organization.suspended_at, organization.suspended_reason = None, ""
        organization.save(update_fields=["suspended_at", "suspended_reason"])
        audit.record("billing.suspension_lifted", organization=organization, balance=str(current.balance))
    return current


def _locked(organization: Organization) -> Organization:
    return Organization.objects.select_for_update().get(pk=organization.pk)


def _check_amount(amount: Decimal) -> Decimal:
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise RuleViolation("The amount must be a positive number.")
    if amount != amount.quantize(Decimal("0.01")):
        raise RuleViolation("The amount has at most two decimals (cents).")
    return amount


def _check_day(day: date, today: date) -> None:
    if day > today:
        raise RuleViolation("The date cannot be in the future.")


@transaction.atomic
def record_payment(actor, organization, *, amount, method, reference="", occurred_on=None, request=None):
    """A payment or top-up received: adds `amount` to the balance."""
    today = timezone.now().date()
    occurred_on = occurred_on or today
    _check_amount(amount)
    _check_day(occurred_on, today)
    if method not in Transaction.Method.values:
        raise RuleViolation("Choose a payment method.")
    organization = _locked(organization)
    entry = Transaction.objects.create(
        organization=organization,
        kind=Transaction.Kind.PAYMENT,
        amount=amount,
        occurred_on=occurred_on,
        method=method,
        reference=reference,
        recorded_by=actor,
    )
    audit.record(
        "billing.payment_recorded",
        request=request,
        actor=actor,
        organization=organization,
        target=f"{amount} USD",
        method=method,
        reference=reference,
        occurred_on=occurred_on.isoformat(),
    )
    refresh_standing(organization, today)
    return entry


# A refund pays money back to the customer (takes from the balance); an adjustment corrects the balance
# either way. Both need a reason.
CORRECTIONS = {
    "refund": (Transaction.Kind.REFUND, -1, "billing.refund_recorded"),
    "credit": (Transaction.Kind.ADJUSTMENT, 1, "billing.adjustment_recorded"),
    "debit": (Transaction.Kind.ADJUSTMENT, -1, "billing.adjustment_recorded"),
}


@transaction.atomic
def record_correction(actor, organization, *, correction, amount, reason, occurred_on=None, request=None):
    """A refund ("refund") or a balance adjustment ("credit" adds, "debit" takes), with a reason."""
    today = timezone.now().date()
    occurred_on = occurred_on or today
    if correction not in CORRECTIONS:
        raise RuleViolation("Choose refund, credit or debit.")
    _check_amount(amount)
    _check_day(occurred_on, today)
    if not reason.strip():
        raise RuleViolation("Give the reason for this entry.")
    kind, sign, action = CORRECTIONS[correction]
    organization = _locked(organization)
    entry = Transaction.objects.create(
        organization=organization,
        kind=kind,
        amount=sign * amount,
        occurred_on=occurred_on,
        reason=reason.strip(),
        recorded_by=actor,
    )
    audit.record(
        action,
        request=request,
        actor=actor,
        organization=organization,
        target=f"{sign * amount} USD",
        reason=reason.strip(),
        occurred_on=occurred_on.isoformat(),
    )
    refresh_standing(organization, today)
    return entry


def deduct_due_statements(today: date | None = None) -> int:
    """Deduct every issued statement whose due date has come and refresh every organization's standing.
    Idempotent (one deduction per statement, enforced by a unique constraint). Returns deductions made."""
    today = today or timezone.now().date()
    made = 0
    for organization in Organization.objects.order_by("pk"):
        made += _deduct_for(organization, today)
    return made


@transaction.atomic
def _deduct_for(organization: Organization, today: date) -> int:
    organization = _locked(organization)
    due = Statement.objects.filter(organization=organization, due_date__lte=today).exclude(total=0)
    due = due.exclude(transactions__kind=Transaction.Kind.DEDUCTION).order_by("month")
    for statement in due:
        Transaction.objects.create(
            organization=organization,
            kind=Transaction.Kind.DEDUCTION,
            amount=-statement.total,
            currency=statement.currency,
            occurred_on=statement.due_date,
            statement=statement,
            reason=f"Statement {statement.number}",
        )
        audit.record(
            "billing.statement_deducted", organization=organization, target=statement.number, total=str(statement.total)
        )
    refresh_standing(organization, today)
    return len(due)


def statement_statuses(organization: Organization) -> dict[int, str]:
    """Statement id -> "pending" (not deducted yet), "paid" or "unpaid". Deducted statements are settled
    oldest first by everything else on the ledger (payments, refunds, adjustments)."""
    entries = list(ledger_entries(organization).values_list("kind", "amount", "statement_id"))
    funds = sum((amount for kind, amount, _ in entries if kind != Transaction.Kind.DEDUCTION), Decimal(0))
    deducted = {statement_id: -amount for kind, amount, statement_id in entries if kind == Transaction.Kind.DEDUCTION}
    statuses, owed = {}, Decimal(0)
    for statement_id, total in (
        Statement.objects.filter(organization=organization).order_by("month").values_list("pk", "total")
    ):
        if statement_id not in deducted:
            statuses[statement_id] = "paid" if total == 0 else "pending"
            continue
        owed += deducted[statement_id]
        statuses[statement_id] = "paid" if owed <= funds else "unpaid"
    return statuses
