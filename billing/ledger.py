"""The ledger of an organization: balance, account standing, and the entries that change them.

Balance = the sum of the ledger (statements are deducted from it on their due date). Standing follows what
the payments settled (`billing.settlement`): the organization is in arrears while a statement is overdue
(something still due after its due date) or an amount owed on no statement is unpaid (due the day it
arose); once that has lasted 5 days from the due date it is suspended until paid. Billing writes the
verdict on the organization (`suspended_at`, `suspended_reason`); tokens and projects only read it.

Every entry is a new `Transaction` (append-only) written under the organization's row lock, with an
audit entry, followed by a fresh look at the standing, so recording a payment lifts a suspension at once.

Entries typed into a form carry the form's one-time token, unique per organization: the same form sent
twice (a double click, a resent request) finds its entry under the lock and writes nothing the second time.
A payment whose reference an earlier payment already has is refused until the person confirms it.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Min
from django.http import HttpRequest

from accounts import audit
from accounts.models import Membership, Organization
from console.dates import utc_today
from console.refusals import RuleViolation

from . import settlement
from .models import Statement, Transaction

# Registered with accounts.audit when the app starts (apps.py).
AUDIT_ACTIONS = {
    "billing.payment_recorded": "Payment recorded",
    "billing.refund_recorded": "Refund recorded",
    "billing.adjustment_recorded": "Balance adjustment recorded",
    "billing.statement_deducted": "Statement deducted from the balance",
    "billing.suspended": "Organization suspended for an overdue invoice",
    "billing.suspension_lifted": "Suspension lifted",
}

GRACE_DAYS = 5
FORM_TOKEN = re.compile(r"[0-9a-f]{32}")
OLDEST_VALUE_DATE = date(2000, 1, 1)
VALUE_DATE_LOOKBACK = timedelta(days=366)
GOOD, ARREARS, SUSPENDED = "good_standing", "arrears", "suspended"
STATUS_LABELS = {GOOD: "In good standing", ARREARS: "In arrears", SUSPENDED: "Suspended"}


@dataclass(frozen=True)
class Standing:
    balance: Decimal
    status: str
    overdue_since: date | None  # the missed due date of the oldest overdue statement (or amount owed on none)
    suspend_on: date | None  # overdue_since + 5 days
    overdue_invoice: str = ""  # that statement's number; "" when what is overdue is on no statement
    overdue_amount: Decimal = Decimal("0.00")  # everything past due, on statements or not

    @property
    def label(self) -> str:
        return STATUS_LABELS[self.status]


def _oldest_missed(settled: settlement.Settlement) -> tuple[date, str] | None:
    """The earliest missed due date and the statement that missed it ("" for an amount owed on no
    statement, due the day it arose), or None when nothing is overdue."""
    missed = []
    if settled.oldest_overdue is not None:
        missed.append((settled.oldest_overdue.due_date, settled.oldest_overdue.number))
    if settled.other_owed and settled.owed_since is not None:
        missed.append((settled.owed_since, ""))
    return min(missed) if missed else None


def standing_from(balance: Decimal, settled: settlement.Settlement) -> Standing:
    """Standing from what the payments settled, as of `settled.today`."""
    missed = _oldest_missed(settled)
    if missed is None:
        return Standing(balance, GOOD, None, None)
    since, number = missed
    suspend_on = since + timedelta(days=GRACE_DAYS)
    status = SUSPENDED if settled.today >= suspend_on else ARREARS
    return Standing(balance, status, since, suspend_on, number, settled.overdue_amount)


def balance_of(organization: Organization) -> Decimal:
    # Summed here rather than by SQL: SQLite's SUM of decimals comes back through a float.
    return sum(Transaction.objects.filter(organization=organization).values_list("amount", flat=True), Decimal("0.00"))


def standing(
    organization: Organization, today: date | None = None, *, settled: settlement.Settlement | None = None
) -> Standing:
    """The standing as of `today`; a page that has settled the organization already hands `settled` in."""
    settled = settled or settlement.settle_organization(organization, today or utc_today())
    return standing_from(balance_of(organization), settled)


def suspension_reason(current: Standing) -> str:
    overdue = f"Invoice {current.overdue_invoice}" if current.overdue_invoice else "An amount owed on no invoice"
    return f"{overdue}, due on {current.overdue_since:%Y-%m-%d}, is still unpaid more than {GRACE_DAYS} days later."


def refresh_standing(organization: Organization, today: date | None = None) -> Standing:
    """Write the standing's verdict on the organization: suspend or lift. Call under the organization's lock."""
    today = today or utc_today()
    current = standing(organization, today)
    if current.status == SUSPENDED and not organization.is_suspended and current.suspend_on is not None:
        organization.suspended_at = datetime.combine(current.suspend_on, time.min, tzinfo=UTC)
        organization.suspended_reason = suspension_reason(current)
        organization.save(update_fields=["suspended_at", "suspended_reason"])
        audit.record(
            "billing.suspended",
            actor=None,
            organization=organization,
            target=current.overdue_invoice,
            balance=str(current.balance),
            overdue=str(current.overdue_amount),
        )
    elif current.status != SUSPENDED and organization.is_suspended:
        organization.suspended_at, organization.suspended_reason = None, ""
        organization.save(update_fields=["suspended_at", "suspended_reason"])
        audit.record("billing.suspension_lifted", actor=None, organization=organization, balance=str(current.balance))
    return current


def _locked(organization: Organization) -> Organization:
    return Organization.objects.select_for_update().get(pk=organization.pk)


class AlreadyRecorded(Exception):
    """The form token was used already: `entry` is what that first post recorded."""

    def __init__(self, entry: Transaction):
        super().__init__(f"{entry} was already recorded.")
        self.entry = entry


class SameReference(RuleViolation):
    """An earlier payment of the organization has this reference: record it only when confirmed."""

    def __init__(self, earlier: Transaction):
        super().__init__(
            f"A payment with the reference “{earlier.reference}” was already recorded: {earlier.currency} "
            f"{earlier.amount:,} on {earlier.occurred_on:%Y-%m-%d}. If this is another payment, confirm with "
            "“Record it anyway”."
        )
        self.earlier = earlier


def _check_form_token(form_token: str | None) -> None:
    if form_token is not None and not FORM_TOKEN.fullmatch(form_token):
        raise RuleViolation("This form cannot be sent: reload the page and try again.")


def _refuse_replay(organization: Organization, form_token: str | None) -> None:
    """AlreadyRecorded when the token is on an entry already. Call under the organization's lock, which
    makes a second post of the same form wait for the first and then find its entry."""
    if not form_token:
        return
    earlier = Transaction.objects.filter(organization=organization, form_token=form_token).first()
    if earlier is not None:
        raise AlreadyRecorded(earlier)


def _create_entry(organization: Organization, form_token: str | None, **fields: object) -> Transaction:
    """Write the entry. The unique form token is the last guard: a replay that got past the lock still
    writes nothing and answers AlreadyRecorded."""
    try:
        with transaction.atomic():
            return Transaction.objects.create(organization=organization, form_token=form_token or "", **fields)
    except IntegrityError:
        _refuse_replay(organization, form_token)
        raise


def _refuse_same_reference(organization: Organization, reference: str) -> None:
    if not reference:
        return
    payments = Transaction.objects.filter(organization=organization, kind=Transaction.Kind.PAYMENT)
    earlier = payments.filter(reference__iexact=reference).first()
    if earlier is not None:
        raise SameReference(earlier)


def _check_amount(amount: Decimal) -> Decimal:
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise RuleViolation("The amount must be a positive number.")
    if amount != amount.quantize(Decimal("0.01")):
        raise RuleViolation("The amount has at most two decimals (cents).")
    return amount


def earliest_value_date(organization: Organization) -> date:
    """The oldest value date a payment or correction may have: a year before the organization was created
    or before its first billed month, whichever is earlier (money paid before the account was opened here,
    or history brought over), and never before 2000. A year-1 date is a typing slip, not a payment."""
    start = organization.created_at.astimezone(UTC).date()
    first_month = Statement.objects.filter(organization=organization).aggregate(first=Min("month"))["first"]
    if first_month is not None:
        start = min(start, first_month)
    return max(OLDEST_VALUE_DATE, start - VALUE_DATE_LOOKBACK)


def value_date_problem(organization: Organization, day: date, today: date | None = None) -> str | None:
    """Why `day` cannot be the value date of a payment or correction (None when it can): the money has
    moved already, so never in the future (UTC), and never before `earliest_value_date`."""
    if day > (today or utc_today()):
        return "The date cannot be in the future."
    earliest = earliest_value_date(organization)
    if day < earliest:
        return f"The date cannot be before {earliest:%Y-%m-%d}: check the year."
    return None


def _check_day(organization: Organization, day: date, today: date) -> None:
    problem = value_date_problem(organization, day, today)
    if problem:
        raise RuleViolation(problem)


def _check_statement(organization: Organization, statement: Statement | None) -> None:
    # The form only offers the organization's own invoices; the API and commands get the same answer.
    if statement is not None and statement.organization_id != organization.pk:
        raise RuleViolation("Choose an invoice of this organization.")


@transaction.atomic
def record_payment(
    actor: Membership,
    *,
    amount: Decimal,
    method: str,
    reference: str = "",
    occurred_on: date | None = None,
    statement: Statement | None = None,
    form_token: str | None = None,
    same_reference_ok: bool = False,
    request: HttpRequest | None = None,
) -> Transaction:
    """A payment or top-up received: adds `amount` to the balance and pays `statement` first when given
    (else the open statements, oldest first; see `billing.settlement`), for the member's organization.
    AlreadyRecorded when `form_token` was used already; SameReference when an earlier payment has this
    reference, unless `same_reference_ok`."""
    organization = actor.organization
    today = utc_today()
    occurred_on = occurred_on or today
    _check_amount(amount)
    _check_form_token(form_token)
    if method not in Transaction.Method.values:
        raise RuleViolation("Choose a payment method.")
    _check_statement(organization, statement)
    organization = _locked(organization)
    _refuse_replay(organization, form_token)
    _check_day(organization, occurred_on, today)
    if not same_reference_ok:
        _refuse_same_reference(organization, reference)
    entry = _create_entry(
        organization,
        form_token,
        kind=Transaction.Kind.PAYMENT,
        amount=amount,
        occurred_on=occurred_on,
        method=method,
        reference=reference,
        statement=statement,
        recorded_by=actor.user,
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
        invoice=statement.number if statement else "",
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
def record_correction(
    actor: Membership,
    *,
    correction: str,
    amount: Decimal,
    reason: str,
    occurred_on: date | None = None,
    form_token: str | None = None,
    request: HttpRequest | None = None,
) -> Transaction:
    """A refund ("refund") or a balance adjustment ("credit" adds, "debit" takes), with a reason.
    AlreadyRecorded when `form_token` was used already."""
    organization = actor.organization
    today = utc_today()
    occurred_on = occurred_on or today
    if correction not in CORRECTIONS:
        raise RuleViolation("Choose refund, credit or debit.")
    _check_amount(amount)
    _check_form_token(form_token)
    if not reason.strip():
        raise RuleViolation("Give the reason for this entry.")
    kind, sign, action = CORRECTIONS[correction]
    organization = _locked(organization)
    _refuse_replay(organization, form_token)
    _check_day(organization, occurred_on, today)
    entry = _create_entry(
        organization,
        form_token,
        kind=kind,
        amount=sign * amount,
        occurred_on=occurred_on,
        reason=reason.strip(),
        recorded_by=actor.user,
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
    """Deduct every issued statement whose due date has come and refresh every organization's standing (the
    daily run is what puts an organization in arrears the day after a due date and suspends it 5 days on).
    Idempotent (one deduction per statement, enforced by a unique constraint). Returns deductions made."""
    today = today or utc_today()
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
            "billing.statement_deducted",
            actor=None,
            organization=organization,
            target=statement.number,
            total=str(statement.total),
        )
    refresh_standing(organization, today)
    return len(due)
