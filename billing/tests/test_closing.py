"""The month close: statements issued once, frozen, numbered without gaps; late usage as adjustments."""

from datetime import UTC, date, datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import AuditEntry
from billing import tasks
from billing.closing import close_month, due_date_for
from billing.estimate import month_to_date
from billing.models import PriceBook, Statement, StatementLine
from conftest import run_together
from console.dates import month_end, previous_month
from console.refusals import Immutable
from usage.models import DailyUsage

OCTOBER, NOVEMBER, DECEMBER = date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1)
AFTER_OCTOBER = date(2026, 11, 2)  # a day on which October can be closed


def add_usage(project, day, **seconds):
    row, _ = DailyUsage.objects.get_or_create(project=project, date=day, business="default")
    for column, value in seconds.items():
        setattr(row, column, getattr(row, column) + value)
    row.save()


def close(month, organization=None, today=None):
    return close_month(month, organization, today=today or date(2027, 6, 1))


def test_the_statement_freezes_the_months_priced_usage(acme):
    add_usage(acme.projects[0], date(2026, 10, 3), audio=20_000 * 60)  # 10,000 free, 10,000 billable
    add_usage(acme.projects[1], date(2026, 10, 31), video_hd=1_000 * 60 + 1)  # 1,001 min
    add_usage(acme.projects[0], date(2026, 11, 1), audio=99_999)  # November: not on October's statement
    [statement] = close(OCTOBER, acme.organization, today=AFTER_OCTOBER)
    # Audio 10,000 x 0.99 / 1000 = 9.90; HD 1,001 x 3.99 / 1000 = 3.99399 -> 3.99; total 13.89.
    assert (statement.number, statement.month, statement.due_date) == ("INV-202610-0001", OCTOBER, date(2026, 11, 6))
    assert statement.total == statement.usage_total == Decimal("13.89")
    assert statement.price_book == PriceBook.book_for(acme.organization, OCTOBER)
    lines = {line.description: line for line in statement.lines.all()}
    assert (lines["Audio"].minutes, lines["Audio"].free_minutes, lines["Audio"].amount) == (
        20_000,
        10_000,
        Decimal("9.90"),
    )
    assert (lines["Video HD"].billable_minutes, lines["Video HD"].amount) == (1_001, Decimal("3.99"))
    assert sum(line.amount for line in lines.values()) == statement.total
    assert AuditEntry.objects.filter(action="billing.statement_issued", target=statement.number).count() == 1


def test_closing_twice_issues_nothing_new(acme, globex):
    add_usage(acme.projects[0], date(2026, 10, 3), audio=20_000 * 60)
    add_usage(globex.projects[0], date(2026, 10, 4), video_2k=60)
    assert len(close(OCTOBER)) == 2
    assert close(OCTOBER) == [] and close(OCTOBER, acme.organization) == []
    assert Statement.objects.count() == 2 and StatementLine.objects.filter(kind="usage").count() == 2 * 5


def test_numbers_are_gapless_per_organization(acme, globex):
    for month in (date(2026, 8, 1), date(2026, 9, 1), OCTOBER):
        add_usage(acme.projects[0], month, audio=60)
    add_usage(globex.projects[0], OCTOBER, audio=60)
    for month in (date(2026, 8, 1), date(2026, 9, 1), OCTOBER):
        close(month)
    numbers = list(
        Statement.objects.filter(organization=acme.organization).order_by("sequence").values_list("number", flat=True)
    )
    assert numbers == ["INV-202608-0001", "INV-202609-0002", "INV-202610-0003"]
    assert Statement.objects.get(organization=globex.organization).number == "INV-202610-0001"


def test_a_month_that_has_not_ended_cannot_be_closed(acme):
    with pytest.raises(ValueError, match="has not ended"):
        close_month(NOVEMBER, today=date(2026, 11, 30))
    with pytest.raises(ValueError, match="1st"):
        close_month(date(2026, 10, 2), today=AFTER_OCTOBER)


def test_a_statement_can_be_dated_when_its_month_close_ran(acme):
    add_usage(acme.projects[0], date(2026, 10, 3), audio=20_000 * 60)
    with pytest.raises(ValueError, match="before the month has ended"):
        close_month(OCTOBER, acme.organization, today=AFTER_OCTOBER, issued_at=datetime(2026, 10, 31, 23, tzinfo=UTC))
    issued_at = datetime(2026, 11, 1, 2, tzinfo=UTC)
    [statement] = close_month(OCTOBER, acme.organization, today=AFTER_OCTOBER, issued_at=issued_at)
    assert statement.issued_at == issued_at and statement.due_date == date(2026, 11, 6)


def test_an_organization_without_usage_gets_no_statement(acme):
    assert close(OCTOBER, acme.organization) == []


def test_a_month_under_the_free_minutes_gets_a_zero_statement(acme):
    add_usage(acme.projects[0], date(2026, 10, 3), audio=9_999 * 60, video_hd=60)
    [statement] = close(OCTOBER, acme.organization)
    assert statement.total == Decimal("0.00") and statement.total_minutes == 10_000


def test_late_usage_becomes_an_adjustment_on_the_next_statement(acme):
    add_usage(acme.projects[0], date(2026, 10, 3), audio=10_000 * 60, video_hd=1_000 * 60)  # HD 3.99
    [october] = close(OCTOBER, acme.organization)
    add_usage(acme.projects[0], date(2026, 10, 30), video_hd=1_000 * 60)  # arrives after the close: +3.99
    add_usage(acme.projects[0], date(2026, 11, 5), audio=10_000 * 60, video_full_hd=1_000 * 60)  # November: 8.99
    [november] = close(NOVEMBER, acme.organization)
    october.refresh_from_db()
    assert october.total == Decimal("3.99")  # never rewritten
    adjustment = november.lines.get(kind=StatementLine.Kind.ADJUSTMENT)
    assert (adjustment.usage_month, adjustment.amount, adjustment.description) == (
        OCTOBER,
        Decimal("3.99"),
        "Late usage of October 2026",
    )
    assert (november.usage_total, november.adjustments_total, november.total) == (
        Decimal("8.99"),
        Decimal("3.99"),
        Decimal("12.98"),
    )
    # Already adjusted: December carries no second adjustment for October.
    add_usage(acme.projects[0], date(2026, 12, 1), audio=60)
    [december] = close(DECEMBER, acme.organization)
    assert not december.lines.filter(kind=StatementLine.Kind.ADJUSTMENT).exists()


def test_usage_corrected_downwards_is_credited(acme):
    add_usage(acme.projects[0], date(2026, 10, 3), audio=10_000 * 60, video_hd=2_000 * 60)  # 7.98
    close(OCTOBER, acme.organization)
    corrected = DailyUsage.objects.filter(project=acme.projects[0], date=date(2026, 10, 3))
    corrected.update(video_hd=1_000 * 60, pulled_at=timezone.now())  # as a re-pull writes it
    [november] = close(NOVEMBER, acme.organization)  # no November usage: a statement for the credit alone
    assert november.usage_total == Decimal("0.00") and november.total == Decimal("-3.99")


def test_a_month_not_pulled_again_since_its_statement_is_not_priced_again(acme):
    """Only new usage data adjusts a billed month: a row changed without a pull (or a change in how minutes
    are counted) never re-prices an old statement."""
    add_usage(acme.projects[0], date(2026, 10, 3), audio=10_000 * 60, video_hd=2_000 * 60)
    close(OCTOBER, acme.organization)
    DailyUsage.objects.filter(project=acme.projects[0]).update(video_hd=1_000 * 60)  # pulled_at unchanged
    assert close(NOVEMBER, acme.organization) == []


def test_late_usage_inside_the_free_minutes_changes_nothing(acme):
    add_usage(acme.projects[0], date(2026, 10, 3), audio=60)
    close(OCTOBER, acme.organization)
    add_usage(acme.projects[0], date(2026, 10, 4), audio=60)
    assert close(NOVEMBER, acme.organization) == []


def test_issued_statements_and_lines_cannot_change(acme):
    add_usage(acme.projects[0], date(2026, 10, 3), audio=20_000 * 60)
    [statement] = close(OCTOBER, acme.organization)
    statement.total = Decimal("0.01")
    with pytest.raises(Immutable):
        statement.save()
    with pytest.raises(Immutable):
        statement.lines.first().delete()
    with pytest.raises(Immutable), transaction.atomic():
        Statement.objects.filter(pk=statement.pk).update(total=0)
    assert Statement.objects.get(pk=statement.pk).total == Decimal("9.90")


def test_the_due_date_is_the_sixth_of_the_next_month():
    assert due_date_for(date(2026, 12, 1)) == date(2027, 1, 6)
    assert due_date_for(date(2028, 2, 1)) == date(2028, 3, 6)
    assert previous_month(date(2027, 1, 1)) == date(2026, 12, 1)


def test_the_beat_task_closes_the_previous_month(acme, monkeypatch):
    add_usage(acme.projects[0], date(2026, 10, 3), audio=20_000 * 60)
    monkeypatch.setattr(timezone, "now", lambda: datetime(2026, 11, 1, 0, 30, tzinfo=UTC))
    assert tasks.close_previous_month() == 1
    assert tasks.close_previous_month() == 0


def test_a_statement_is_never_due_before_it_is_issued():
    assert due_date_for(OCTOBER) == due_date_for(OCTOBER, date(2026, 11, 1)) == date(2026, 11, 6)
    assert due_date_for(OCTOBER, date(2026, 11, 6)) == date(2026, 11, 6)
    # A close that ran late (the job was down): due as long after its issue as the 6th is after the 1st.
    assert due_date_for(OCTOBER, date(2026, 11, 7)) == date(2026, 11, 12)
    assert due_date_for(OCTOBER, date(2026, 12, 3)) == date(2026, 12, 8)


def test_the_command_closes_by_hand_and_explains_mistakes(acme, globex):
    add_usage(acme.projects[0], date(2026, 10, 3), audio=20_000 * 60)
    add_usage(globex.projects[0], date(2026, 10, 3), audio=20_000 * 60)
    out = StringIO()
    call_command("close_month", "--month", "2026-10", "--org", acme.organization.slug, stdout=out)
    due = due_date_for(OCTOBER, timezone.now().date())  # the 6th of November, or later when closed late
    assert f"INV-202610-0001 USD 9.90 due {due:%Y-%m-%d}" in out.getvalue()
    assert not Statement.objects.filter(organization=globex.organization).exists()
    out = StringIO()
    call_command("close_month", "--month", "2026-10", "--org", acme.organization.slug, stdout=out)
    assert "nothing new to issue" in out.getvalue()
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("close_month", "--month", "October")
    with pytest.raises(CommandError, match="No organization"):
        call_command("close_month", "--month", "2026-10", "--org", "nobody")
    with pytest.raises(CommandError, match="has not ended"):
        call_command("close_month", "--month", "2999-01")


seconds_per_day = st.fixed_dictionaries(
    {column: st.integers(0, 400_000) for column in ("audio", "video_hd", "video_full_hd", "video_2k", "video_2k_plus")}
    | {"video_hd_plus": st.integers(0, 5_000)}
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    month=st.sampled_from([date(2026, 2, 1), date(2026, 4, 1), date(2026, 10, 1), date(2028, 2, 1)]),
    days=st.lists(st.tuples(st.integers(1, 31), st.integers(0, 1), seconds_per_day), min_size=1, max_size=8),
)
def test_the_estimate_on_the_last_day_equals_the_statement_issued_the_next_day(acme, month, days):
    with transaction.atomic():
        last_day = month_end(month)
        for day, project, seconds in days:
            add_usage(acme.projects[project], month.replace(day=min(day, last_day.day)), **seconds)
        estimate = month_to_date(acme.organization, today=last_day)
        issued = close_month(month, acme.organization, today=date.fromordinal(last_day.toordinal() + 1))
        if not issued:
            assert estimate.priced.total_minutes == 0
        else:
            [statement] = issued
            assert statement.total == statement.usage_total == estimate.priced.total
            assert sum(line.amount for line in statement.lines.all()) == statement.total
            assert [line.amount for line in statement.lines.filter(kind="usage")] == [
                line.amount for line in estimate.priced.lines
            ]
        transaction.set_rollback(True)


@pytest.mark.django_db(transaction=True)
def test_simultaneous_closes_issue_one_statement(postgres, acme):
    add_usage(acme.projects[0], date(2026, 10, 3), audio=20_000 * 60)
    outcomes = run_together(*[lambda: close(OCTOBER, acme.organization)] * 3)
    assert outcomes == [None, None, None]
    assert Statement.objects.filter(organization=acme.organization).count() == 1


def test_the_discount_and_the_rounding_are_lines_of_their_own_only_when_not_zero(acme):
    # 120,000 audio minutes: 110,000 billable = 108.90; 5% on positions 100,000..120,000 = 0.9900495 -> 0.99;
    # exact total 107.9099505 -> 107.91 = 108.90 - 0.99: no rounding line.
    add_usage(acme.projects[0], date(2026, 10, 3), audio=120_000 * 60)
    [october] = close(OCTOBER, acme.organization)
    lines = list(october.lines.exclude(kind=StatementLine.Kind.USAGE).values_list("kind", "description", "amount"))
    assert lines == [("discount", "Volume discount", Decimal("-0.99"))]
    assert sum(line.amount for line in october.lines.all()) == october.total == Decimal("107.91")
    # Rounding alone: 10,006 audio + 4 HD + 3 Full HD + 1 2K minutes: lines 0.01 + 0.02 + 0.03 + 0.02 = 0.08,
    # exact total 0.06486 -> 0.06.
    add_usage(acme.projects[0], date(2026, 11, 3), audio=10_006 * 60, video_hd=240, video_full_hd=180, video_2k=60)
    [november] = close(NOVEMBER, acme.organization)
    lines = list(november.lines.exclude(kind=StatementLine.Kind.USAGE).values_list("kind", "description", "amount"))
    assert lines == [("rounding", "Rounding", Decimal("-0.02"))]
    assert sum(line.amount for line in november.lines.all()) == november.total == Decimal("0.06")
