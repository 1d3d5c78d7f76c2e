"""How payments settle invoices: what each statement has been paid, what is still due, and the credit balance.

The ledger's balance (`billing.ledger`) says how much money an organization has; it does not say which
invoice a payment paid. This module does, by replaying in order the organization's statements (on the
day they were issued, UTC) and its ledger entries (by value date, then entry id; on the same day the
statements come first) and allocating the money:

- A statement issued owes its total. Any credit balance (money received and not applied yet) is applied
  to it at once. A statement with a total of 0 is paid at issue; a negative total (late usage corrected
  downwards) is a credit note: it adds -total to the credit balance and is paid at issue. When that
  credit meets statements still open, it pays them, oldest month first.
- A positive entry (a payment, a credit adjustment) pays first the statement it targets (the
  `Transaction.statement` a finance member picked when recording the payment), then the open statements,
  oldest month first. What is left is credit balance, applied to the next statements when issued.
- A negative entry (a refund, a debit adjustment) takes from the credit balance first, then takes back
  what was applied to the statements, newest month first, re-opening them. What is still left makes the
  credit balance negative: an amount owed that is on no statement ("other amount owed").
- Statement deductions (the ledger entries that take a statement's total from the balance on its due
  date) move no money, so the allocation ignores them.

A statement is "paid" when nothing is due on it, else "overdue" after its due date, else
"partially_paid" when something was applied to it, else "open". Its history lists each application:
day, amount, where the money came from, and the ledger entry (negative amounts are reversals).

Money is only moved, never made: total funds (the entries' sum) minus the statements' totals is always
the credit balance minus the amount due on the statements. Amounts are cents already; nothing is rounded.

`settle` is the pure core (plain values in, plain dataclasses out); `settle_organization` reads one
organization's statements and ledger for it; `with_settlement` annotates a statement queryset with the
result so lists can filter and sort by status and amount due.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date
from decimal import Decimal

from django.db.models import Case, CharField, DateField, DecimalField, Expression, F, Field, QuerySet, Value, When

from accounts.models import Organization
from console.dates import utc_today

from .models import Statement, Transaction

OPEN, PARTIALLY_PAID, PAID, OVERDUE = "open", "partially_paid", "paid", "overdue"
STATUS_LABELS = {OPEN: "Open", PARTIALLY_PAID: "Partially paid", PAID: "Paid", OVERDUE: "Overdue"}
CREDIT_BALANCE = "Credit balance"
ZERO = Decimal("0.00")


# What goes in -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bill:
    """A statement as the allocation sees it."""

    id: int
    number: str
    month: date
    issued_on: date
    due_date: date
    total: Decimal


@dataclass(frozen=True)
class Funds:
    """A ledger entry other than a deduction: positive brings money, negative takes it back."""

    id: int
    occurred_on: date
    amount: Decimal
    label: str  # where the money came from, as a statement's history shows it
    statement_id: int | None = None  # the statement a payment was meant for


# What comes out -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Application:
    day: date
    amount: Decimal  # negative: taken back by a refund or a debit
    source: str
    entry_id: int | None  # None when the money came from the credit balance


@dataclass(frozen=True)
class StatementSettlement:
    statement_id: int
    number: str
    month: date
    due_date: date
    total: Decimal
    paid: Decimal
    amount_due: Decimal
    paid_at: date | None  # the day it last became fully paid; None while something is due
    status: str
    history: tuple[Application, ...]

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def is_credit_note(self) -> bool:
        return self.total < 0


@dataclass(frozen=True)
class Settlement:
    statements: tuple[StatementSettlement, ...]  # oldest month first
    credit: Decimal  # money not applied to a statement; negative: owed on no statement
    owed_since: date | None  # the day the credit last went below zero, while it is
    today: date

    def of(self, statement_id: int) -> StatementSettlement | None:
        return next((each for each in self.statements if each.statement_id == statement_id), None)

    @property
    def credit_balance(self) -> Decimal:
        return max(self.credit, ZERO)

    @property
    def other_owed(self) -> Decimal:
        """An amount owed that is on no statement (a refund or debit larger than what was paid)."""
        return max(-self.credit, ZERO)

    @property
    def statements_due(self) -> Decimal:
        return sum((each.amount_due for each in self.statements), ZERO)

    @property
    def amount_due(self) -> Decimal:
        return self.statements_due + self.other_owed

    @property
    def with_amount_due(self) -> list[StatementSettlement]:
        return [each for each in self.statements if each.amount_due > 0]

    @property
    def next_due_date(self) -> date | None:
        return min((each.due_date for each in self.with_amount_due), default=None)

    @property
    def overdue(self) -> list[StatementSettlement]:
        return [each for each in self.statements if each.status == OVERDUE]

    @property
    def oldest_overdue(self) -> StatementSettlement | None:
        return min(self.overdue, key=lambda each: (each.due_date, each.month), default=None)

    @property
    def overdue_amount(self) -> Decimal:
        """What is past due: the overdue statements' amount due, and any amount owed on no statement
        (it is due the day it arises)."""
        return sum((each.amount_due for each in self.overdue), ZERO) + self.other_owed


# The replay -------------------------------------------------------------------------------------


@dataclass
class _Account:
    """A statement while the replay runs."""

    bill: Bill
    paid: Decimal = ZERO
    paid_at: date | None = None
    history: list[Application] = field(default_factory=list)

    @property
    def due(self) -> Decimal:
        return max(self.bill.total, ZERO) - self.paid


class _Replay:
    def __init__(self) -> None:
        self.accounts: dict[int, _Account] = {}
        self.credit = ZERO
        self.owed_since: date | None = None

    def oldest_first(self) -> list[_Account]:
        return sorted(self.accounts.values(), key=lambda account: (account.bill.month, account.bill.id))

    def issue(self, bill: Bill) -> None:
        account = _Account(bill)
        self.accounts[bill.id] = account
        if bill.total <= 0:
            account.paid_at = bill.issued_on  # nothing to pay; a credit note's amount becomes credit
            self.add_credit(-bill.total, bill.issued_on)
        self.apply_credit(bill.issued_on)

    def receive(self, entry: Funds) -> None:
        left = entry.amount
        for account in self.targets(entry):
            left -= self.apply(account, min(left, account.due), entry.occurred_on, entry.label, entry.id)
        self.add_credit(left, entry.occurred_on)

    def targets(self, entry: Funds) -> list[_Account]:
        """The statement the entry was meant for first, then every other statement, oldest first."""
        accounts = self.oldest_first()
        target = self.accounts.get(entry.statement_id) if entry.statement_id is not None else None
        if target is not None:
            accounts.remove(target)
            accounts.insert(0, target)
        return accounts

    def take_back(self, entry: Funds) -> None:
        left = -entry.amount
        from_credit = min(left, self.credit_balance)
        self.add_credit(-from_credit, entry.occurred_on)
        left -= from_credit
        for account in reversed(self.oldest_first()):
            back = min(left, account.paid)
            if back > 0:
                self.record(account, -back, entry.occurred_on, entry.label, entry.id)
                left -= back
        self.add_credit(-left, entry.occurred_on)

    @property
    def credit_balance(self) -> Decimal:
        return max(self.credit, ZERO)

    def apply_credit(self, day: date) -> None:
        for account in self.oldest_first():
            self.credit -= self.apply(account, min(self.credit_balance, account.due), day, CREDIT_BALANCE, None)

    def apply(self, account: _Account, amount: Decimal, day: date, source: str, entry_id: int | None) -> Decimal:
        if amount <= 0:
            return ZERO
        self.record(account, amount, day, source, entry_id)
        return amount

    def record(self, account: _Account, amount: Decimal, day: date, source: str, entry_id: int | None) -> None:
        account.paid += amount
        account.history.append(Application(day, amount, source, entry_id))
        account.paid_at = day if account.due == 0 else None

    def add_credit(self, amount: Decimal, day: date) -> None:
        was_owed = self.credit < 0
        self.credit += amount
        if self.credit >= 0:
            self.owed_since = None
        elif not was_owed:
            self.owed_since = day


def status_of(amount_due: Decimal, paid: Decimal, due_date: date, today: date) -> str:
    if amount_due == 0:
        return PAID
    if today > due_date:
        return OVERDUE
    return PARTIALLY_PAID if paid > 0 else OPEN


def _events(bills: Iterable[Bill], entries: Iterable[Funds]) -> list[Bill | Funds]:
    """Statements and entries in replay order: by day; on one day statements (oldest month first) first,
    then entries by id."""
    keyed: list[tuple[tuple[date, int, date, int], Bill | Funds]] = [
        ((bill.issued_on, 0, bill.month, bill.id), bill) for bill in bills
    ]
    keyed += [((entry.occurred_on, 1, date.min, entry.id), entry) for entry in entries]
    return [event for _, event in sorted(keyed, key=lambda pair: pair[0])]


def settle(bills: Iterable[Bill], entries: Iterable[Funds], today: date) -> Settlement:
    """Allocate the entries to the bills (see the module docstring). `today` only decides what is overdue."""
    replay = _Replay()
    for event in _events(bills, entries):
        if isinstance(event, Bill):
            replay.issue(event)
        elif event.amount > 0:
            replay.receive(event)
        else:
            replay.take_back(event)
    statements = tuple(_settled(account, today) for account in replay.oldest_first())
    return Settlement(statements, replay.credit, replay.owed_since, today)


def _settled(account: _Account, today: date) -> StatementSettlement:
    bill, due = account.bill, account.due
    return StatementSettlement(
        statement_id=bill.id,
        number=bill.number,
        month=bill.month,
        due_date=bill.due_date,
        total=bill.total,
        paid=account.paid,
        amount_due=due,
        paid_at=account.paid_at,
        status=status_of(due, account.paid, bill.due_date, today),
        history=tuple(account.history),
    )


# Reading an organization ------------------------------------------------------------------------


def entry_label(kind: str, amount: Decimal, method: str, reference: str, reason: str) -> str:
    """Where the money of a ledger entry came from, in a statement's history."""
    if kind == Transaction.Kind.PAYMENT:
        method_label = dict(Transaction.Method.choices).get(method)
        return f"Payment {reference}" if reference else f"Payment ({method_label})" if method_label else "Payment"
    if kind == Transaction.Kind.REFUND:
        return f"Refund: {reason}"
    return f"{'Credit' if amount > 0 else 'Debit'}: {reason}"


def settle_organization(organization: Organization, today: date | None = None) -> Settlement:
    """The settlement of `organization`'s statements by its ledger, as of `today` (UTC)."""
    statements = Statement.objects.filter(organization=organization)
    bills = [
        Bill(pk, number, month, issued_at.astimezone(UTC).date(), due_date, total)
        for pk, number, month, issued_at, due_date, total in statements.values_list(
            "pk", "number", "month", "issued_at", "due_date", "total"
        )
    ]
    ledger = Transaction.objects.filter(organization=organization).exclude(kind=Transaction.Kind.DEDUCTION)
    rows = ledger.values_list("pk", "occurred_on", "amount", "statement_id", "kind", "method", "reference", "reason")
    entries = [
        Funds(pk, occurred_on, amount, entry_label(kind, amount, method, reference, reason), statement_id)
        for pk, occurred_on, amount, statement_id, kind, method, reference, reason in rows
    ]
    return settle(bills, entries, today or utc_today())


def _case(values: dict[int, object], output_field: Field, default: Expression | F) -> Case:
    """CASE over statement ids, one WHEN per distinct value (an organization has few)."""
    ids_by_value: defaultdict[object, list[int]] = defaultdict(list)
    for pk, value in values.items():
        if value is not None:
            ids_by_value[value].append(pk)
    whens = [When(pk__in=ids, then=Value(value)) for value, ids in ids_by_value.items()]
    return Case(*whens, default=default, output_field=output_field)


def with_settlement(statements: QuerySet[Statement], settled: Settlement) -> QuerySet[Statement]:
    """`statements` (of the settled organization) annotated with `status`, `amount_paid`, `amount_due` and
    `paid_at`, so that lists and the API filter and sort by them in the database. A statement issued after
    `settled` was computed shows as open with its total due."""
    rows = settled.statements
    money = DecimalField(max_digits=14, decimal_places=2)
    return statements.annotate(
        status=_case({row.statement_id: row.status for row in rows}, CharField(), Value(OPEN)),
        amount_paid=_case({row.statement_id: row.paid for row in rows}, money, Value(ZERO)),
        amount_due=_case({row.statement_id: row.amount_due for row in rows}, money, F("total")),
        paid_at=_case({row.statement_id: row.paid_at for row in rows}, DateField(), Value(None)),
    )
