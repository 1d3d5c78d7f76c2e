"""How payments settle invoices: the pure allocation (`billing.settlement.settle`), without the database.

January's invoice is USD 15.99 (issued Feb 1, due Feb 6), February's USD 7.98 (issued Mar 1, due Mar 6).
"""

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.settlement import (
    CREDIT_BALANCE,
    OPEN,
    OVERDUE,
    PAID,
    PARTIALLY_PAID,
    Application,
    Bill,
    Funds,
    settle,
)

D = Decimal
JANUARY = Bill(1, "INV-202601-0001", date(2026, 1, 1), date(2026, 2, 1), date(2026, 2, 6), D("15.99"))
FEBRUARY = Bill(2, "INV-202602-0002", date(2026, 2, 1), date(2026, 3, 1), date(2026, 3, 6), D("7.98"))
BEFORE_JANUARY_IS_DUE = date(2026, 2, 4)
LATER = date(2026, 3, 3)  # both issued, neither due yet


def payment(entry_id: int, day: date, amount: str, *, statement_id: int | None = None) -> Funds:
    return Funds(entry_id, day, D(amount), f"Payment REF-{entry_id}", statement_id)


def refund(entry_id: int, day: date, amount: str) -> Funds:
    return Funds(entry_id, day, -D(amount), "Refund: overpaid")


def test_paying_exactly_the_amount_pays_the_invoice_on_the_payment_day():
    settled = settle([JANUARY], [payment(10, date(2026, 2, 3), "15.99")], BEFORE_JANUARY_IS_DUE)
    [january] = settled.statements
    assert (january.status, january.paid, january.amount_due, january.paid_at) == (
        PAID,
        D("15.99"),
        D("0.00"),
        date(2026, 2, 3),
    )
    assert january.history == (Application(date(2026, 2, 3), D("15.99"), "Payment REF-10", 10),)
    assert settled.amount_due == 0 and settled.credit == 0 and settled.next_due_date is None


def test_paying_half_leaves_the_other_half_due():
    settled = settle([JANUARY], [payment(10, date(2026, 2, 3), "8.00")], BEFORE_JANUARY_IS_DUE)
    [january] = settled.statements
    assert (january.status, january.amount_due, january.paid_at) == (PARTIALLY_PAID, D("7.99"), None)
    assert (settled.amount_due, settled.next_due_date) == (D("7.99"), date(2026, 2, 6))


def test_an_invoice_with_nothing_paid_is_open_until_its_due_date_then_overdue():
    assert settle([JANUARY], [], JANUARY.due_date).statements[0].status == OPEN
    settled = settle([JANUARY], [payment(10, date(2026, 2, 3), "1.00")], JANUARY.due_date + timedelta(days=1))
    assert settled.statements[0].status == OVERDUE
    assert settled.oldest_overdue.number == JANUARY.number and settled.overdue_amount == D("14.99")


def test_a_payment_pays_the_oldest_open_invoice_first_unless_it_targets_one():
    oldest_first = settle([JANUARY, FEBRUARY], [payment(10, LATER, "20.00")], LATER)
    assert [(each.number, each.paid, each.status) for each in oldest_first.statements] == [
        (JANUARY.number, D("15.99"), PAID),
        (FEBRUARY.number, D("4.01"), PARTIALLY_PAID),
    ]
    targeted = settle([JANUARY, FEBRUARY], [payment(10, LATER, "20.00", statement_id=FEBRUARY.id)], LATER)
    assert [(each.number, each.paid, each.status) for each in targeted.statements] == [
        (JANUARY.number, D("12.02"), OVERDUE),  # due on Feb 6
        (FEBRUARY.number, D("7.98"), PAID),
    ]
    assert oldest_first.amount_due == targeted.amount_due == D("3.97")


def test_prepaid_credit_pays_an_invoice_at_issue_and_the_rest_carries_to_the_next():
    settled = settle([JANUARY, FEBRUARY], [payment(10, date(2026, 1, 15), "30.00")], LATER)
    january, february = settled.statements
    assert (january.status, january.paid_at) == (PAID, JANUARY.issued_on)
    assert january.history == (Application(JANUARY.issued_on, D("15.99"), CREDIT_BALANCE, None),)
    assert february.history == (Application(FEBRUARY.issued_on, D("7.98"), CREDIT_BALANCE, None),)
    assert (february.status, february.paid_at) == (PAID, FEBRUARY.issued_on)
    assert settled.credit == D("6.03")


def test_on_one_day_the_invoice_comes_before_the_payment():
    settled = settle([JANUARY], [payment(10, JANUARY.issued_on, "15.99")], BEFORE_JANUARY_IS_DUE)
    assert settled.statements[0].history[0].source == "Payment REF-10"


def test_a_refund_reopens_the_newest_paid_invoice_and_a_later_payment_settles_it_again():
    paid_both = [payment(10, LATER, "23.97")]
    partly = settle([JANUARY, FEBRUARY], [*paid_both, refund(11, date(2026, 3, 4), "5.00")], LATER)
    january, february = partly.statements
    assert (january.status, february.status, february.amount_due, february.paid_at) == (
        PAID,
        PARTIALLY_PAID,
        D("5.00"),
        None,
    )
    assert february.history[-1] == Application(date(2026, 3, 4), D("-5.00"), "Refund: overpaid", 11)

    entries = [*paid_both, refund(11, date(2026, 3, 4), "10.00"), payment(12, date(2026, 3, 5), "10.00")]
    reopened = settle([JANUARY, FEBRUARY], entries[:2], LATER)
    assert [(each.paid, each.amount_due) for each in reopened.statements] == [
        (D("13.97"), D("2.02")),
        (D("0.00"), D("7.98")),
    ]
    settled_again = settle([JANUARY, FEBRUARY], entries, LATER)
    assert [(each.status, each.paid_at) for each in settled_again.statements] == [
        (PAID, date(2026, 3, 5)),
        (PAID, date(2026, 3, 5)),
    ]
    assert [entry.amount for entry in settled_again.statements[1].history] == [D("7.98"), D("-7.98"), D("7.98")]


def test_a_refund_takes_from_the_credit_balance_first():
    settled = settle([JANUARY], [payment(10, LATER, "20.00"), refund(11, LATER, "3.00")], LATER)
    assert settled.credit == D("1.01") and settled.statements[0].status == PAID


def test_a_refund_larger_than_what_was_paid_is_owed_on_no_invoice():
    settled = settle([JANUARY], [payment(10, LATER, "15.99"), refund(11, date(2026, 3, 4), "20.00")], LATER)
    assert settled.statements[0].amount_due == D("15.99")
    assert (settled.credit, settled.other_owed, settled.owed_since) == (D("-4.01"), D("4.01"), date(2026, 3, 4))
    assert settled.amount_due == D("20.00")
    paid_back = settle(
        [JANUARY],
        [payment(10, LATER, "15.99"), refund(11, date(2026, 3, 4), "20.00"), payment(12, date(2026, 3, 5), "20.00")],
        LATER,
    )
    assert (paid_back.credit, paid_back.owed_since, paid_back.statements[0].status) == (D("0.00"), None, PAID)


def test_zero_and_negative_statements_are_paid_at_issue_and_a_negative_one_is_credit():
    zero = Bill(3, "INV-202603-0003", date(2026, 3, 1), date(2026, 4, 1), date(2026, 4, 6), D("0.00"))
    credit_note = Bill(4, "INV-202604-0004", date(2026, 4, 1), date(2026, 5, 1), date(2026, 5, 6), D("-5.00"))
    settled = settle([JANUARY, zero, credit_note], [], date(2026, 5, 2))
    january, zero_settled, note = settled.statements
    assert (zero_settled.status, zero_settled.paid_at) == (PAID, zero.issued_on)
    assert (note.status, note.paid_at, note.amount_due, note.is_credit_note) == (PAID, credit_note.issued_on, 0, True)
    # The credit note's 5.00 pays the open January invoice at once.
    assert january.history == (Application(credit_note.issued_on, D("5.00"), CREDIT_BALANCE, None),)
    assert (january.amount_due, settled.credit) == (D("10.99"), D("0.00"))


# Properties ---------------------------------------------------------------------------------------

START = date(2026, 1, 1)
cents = st.integers(min_value=-50_000, max_value=200_000).map(lambda n: D(n).scaleb(-2))
days = st.integers(min_value=0, max_value=200).map(lambda n: START + timedelta(days=n))


@st.composite
def bills(draw) -> list[Bill]:
    count = draw(st.integers(min_value=0, max_value=6))
    found = []
    for index in range(count):
        issued_on = draw(days)
        month = date(2025 + (index // 12), index % 12 + 1, 1)
        due_date = issued_on + timedelta(days=draw(st.integers(min_value=0, max_value=30)))
        found.append(Bill(index + 1, f"INV-{index + 1}", month, issued_on, due_date, draw(cents)))
    return found


@st.composite
def entries(draw, statement_ids: list[int]) -> list[Funds]:
    amounts = st.integers(min_value=1, max_value=100_000).map(lambda n: D(n).scaleb(-2))
    found = []
    for entry_id in range(100, 100 + draw(st.integers(min_value=0, max_value=10))):
        sign = draw(st.sampled_from([1, 1, -1]))
        target = draw(st.sampled_from([None, *statement_ids])) if sign > 0 else None
        found.append(Funds(entry_id, draw(days), sign * draw(amounts), f"entry {entry_id}", target))
    return found


@st.composite
def ledgers(draw):
    drawn_bills = draw(bills())
    return drawn_bills, draw(entries([bill.id for bill in drawn_bills])), draw(days)


@settings(max_examples=300, deadline=None)
@given(ledgers())
def test_money_is_only_moved_never_made(ledger):
    drawn_bills, drawn_entries, today = ledger
    settled = settle(drawn_bills, drawn_entries, today)
    funds = sum((entry.amount for entry in drawn_entries), D(0))
    totals = sum((bill.total for bill in drawn_bills), D(0))
    assert funds - totals == settled.credit - settled.statements_due
    positive_funds = sum((entry.amount for entry in drawn_entries if entry.amount > 0), D(0))
    credit_notes = sum((-bill.total for bill in drawn_bills if bill.total < 0), D(0))
    taken_back = sum((-entry.amount for entry in drawn_entries if entry.amount < 0), D(0))
    paid = sum((each.paid for each in settled.statements), D(0))
    assert paid + settled.credit == positive_funds + credit_notes - taken_back
    assert settled.amount_due == settled.statements_due + settled.other_owed


@settings(max_examples=300, deadline=None)
@given(ledgers())
def test_every_statement_is_consistent_with_its_amounts_and_dates(ledger):
    drawn_bills, drawn_entries, today = ledger
    settled = settle(drawn_bills, drawn_entries, today)
    by_id = {bill.id: bill for bill in drawn_bills}
    assert sorted(each.statement_id for each in settled.statements) == sorted(by_id)
    for each in settled.statements:
        bill = by_id[each.statement_id]
        assert 0 <= each.amount_due <= max(bill.total, 0)
        assert each.paid == sum((application.amount for application in each.history), D(0))
        assert each.amount_due == max(bill.total, 0) - each.paid
        assert (each.status == PAID) == (each.amount_due == 0)
        assert (each.paid_at is not None) == (each.status == PAID)
        if each.status != PAID:
            assert (each.status == OVERDUE) == (today > bill.due_date)
            if each.status == PARTIALLY_PAID:
                assert each.paid > 0
            if each.status == OPEN:
                assert each.paid == 0
    # Money waits as credit only while nothing is due on the statements.
    assert settled.credit <= 0 or settled.statements_due == 0
    assert (settled.owed_since is not None) == (settled.credit < 0)
