"""The report queries (usage.report): grouping by day and month, billable minutes (usage.minutes:
rounded up per project, tier, business and day, legacy HD+ as HD), the total row as the sum of the rows,
the breakdown by project, scope, business, and a constant number of queries."""

from datetime import date, timedelta

import pytest

from accounts.access import restrict
from accounts.models import Membership, User
from accounts.services import create_role
from projects.models import Project
from usage.minutes import minutes_for
from usage.models import DailyUsage
from usage.report import COLUMNS, TIERS, usage_glance, usage_report

ZERO = (0, 0, 0, 0, 0, 0)


def add(project, day, business="default", **seconds):
    return DailyUsage.objects.create(project=project, date=day, business=business, **seconds)


def seconds(**by_column) -> tuple[int, ...]:
    return tuple(by_column.get(column, 0) for column in COLUMNS)


def mins(**by_tier) -> tuple[int, ...]:
    return tuple(by_tier.get(tier, 0) for tier in TIERS)


def all_projects(org):
    return restrict(Project, org.membership("admin"))


def test_minutes_are_seconds_divided_by_60_rounded_up():
    assert [minutes_for(s) for s in (0, 1, 59, 60, 61, 119, 120, 3601)] == [0, 1, 1, 1, 2, 2, 2, 61]


def test_by_day_every_day_of_the_range_each_project_rounded_on_its_own(acme):
    one, two = acme.projects
    add(one, date(2026, 3, 2), audio=30, video_hd=61)
    add(two, date(2026, 3, 2), audio=30, video_2k_plus=1)
    add(one, date(2026, 3, 4), video_full_hd=120, video_hd_plus=59)

    report = usage_report(all_projects(acme), date(2026, 3, 1), date(2026, 3, 5))

    assert [row.label for row in report.periods] == [f"2026-03-0{d}" for d in range(1, 6)]
    assert [row.seconds for row in report.periods] == [
        ZERO,
        seconds(audio=60, video_hd=61, video_2k_plus=1),
        ZERO,
        seconds(video_full_hd=120, video_hd_plus=59),
        ZERO,
    ]
    # 30 s of audio in each of two projects on one day is two minutes: each project's day is rounded up.
    assert report.periods[1].minutes == mins(audio=2, video_hd=2, video_2k_plus=1)
    assert report.periods[1].total_minutes == 5
    # Legacy HD+ is billed as HD.
    assert report.periods[3].minutes == mins(video_full_hd=2, video_hd=1)
    assert report.rows == report.periods
    assert report.has_usage


def test_each_tier_is_rounded_up_on_its_own_in_each_period(acme):
    project = acme.projects[0]
    add(project, date(2026, 3, 1), **{column: 1 for column in COLUMNS})
    report = usage_report(all_projects(acme), date(2026, 3, 1), date(2026, 3, 1))
    assert report.periods[0].minutes == (1, 1, 1, 1, 1)  # HD: 1 s + 1 s of HD+ = 1 minute
    assert report.periods[0].total_seconds == 6
    assert report.periods[0].total_minutes == 5  # not ceil(6 / 60) = 1: every tier is billed on its own


def test_hd_and_legacy_hd_plus_are_added_before_rounding(acme):
    add(acme.projects[0], date(2026, 3, 1), video_hd=30, video_hd_plus=30)
    report = usage_report(all_projects(acme), date(2026, 3, 1), date(2026, 3, 1))
    assert report.totals.minutes == mins(video_hd=1)
    assert report.totals.tier_seconds() == mins(video_hd=60)


def test_by_month_sums_the_days_rounded_minutes_and_cuts_months_at_the_range_ends(acme):
    project = acme.projects[0]
    for offset in range(45):  # 2026-01-20 .. 2026-03-05, 1 s of audio a day
        add(project, date(2026, 1, 20) + timedelta(days=offset), audio=1, video_hd=100)

    report = usage_report(all_projects(acme), date(2026, 1, 25), date(2026, 3, 2), granularity="month")

    assert [(row.label, row.start, row.end, row.partial) for row in report.periods] == [
        ("2026-01", date(2026, 1, 25), date(2026, 1, 31), True),
        ("2026-02", date(2026, 2, 1), date(2026, 2, 28), False),
        ("2026-03", date(2026, 3, 1), date(2026, 3, 2), True),
    ]
    assert [row.seconds for row in report.periods] == [
        seconds(audio=7, video_hd=700),
        seconds(audio=28, video_hd=2800),
        seconds(audio=2, video_hd=200),
    ]
    # Each day: 1 s of audio is 1 minute, 100 s of HD is 2 minutes.
    assert [row.minutes for row in report.periods] == [
        mins(audio=7, video_hd=14),
        mins(audio=28, video_hd=56),
        mins(audio=2, video_hd=4),
    ]


def test_a_month_without_usage_is_a_row_of_zeros(acme):
    add(acme.projects[0], date(2026, 1, 10), audio=600)
    report = usage_report(all_projects(acme), date(2025, 12, 1), date(2026, 2, 28), granularity="month")
    assert [(row.label, row.minutes[0]) for row in report.periods] == [("2025-12", 0), ("2026-01", 10), ("2026-02", 0)]


def test_the_total_row_is_the_sum_of_the_rows_whatever_the_granularity(acme):
    """The documented definition: minutes are rounded per project, tier and day, so totals are sums."""
    project = acme.projects[0]
    for offset in range(31):  # 31 days of 10 s of audio and 70 s of HD
        add(project, date(2026, 1, 1) + timedelta(days=offset), audio=10, video_hd=70)
    qs = all_projects(acme)

    by_day = usage_report(qs, date(2026, 1, 1), date(2026, 1, 31), granularity="day")
    by_month = usage_report(qs, date(2026, 1, 1), date(2026, 1, 31), granularity="month")
    broken_down = usage_report(qs, date(2026, 1, 1), date(2026, 1, 31), granularity="day", breakdown=True)

    assert by_day.totals.seconds == seconds(audio=310, video_hd=2170)
    assert by_day.totals.minutes == mins(audio=31, video_hd=62)  # 31 x ceil(10/60), 31 x ceil(70/60)
    for other in (by_month, broken_down):
        assert (other.totals.seconds, other.totals.minutes) == (by_day.totals.seconds, by_day.totals.minutes)
    assert by_day.totals.label == "Total" and by_day.totals.is_total
    # One calendar month: the total is the month row, which is what a bill counts.
    assert by_month.periods[0].minutes == by_month.totals.minutes
    # The rows add up to the total row, in every layout.
    for report in (by_day, by_month):
        assert tuple(sum(row.minutes[i] for row in report.periods) for i in range(len(TIERS))) == report.totals.minutes
    assert tuple(sum(row.minutes[i] for row in broken_down.rows) for i in range(len(TIERS))) == by_day.totals.minutes


def test_the_breakdown_has_one_row_per_period_and_project_with_usage(acme):
    alpha, beta = acme.projects  # "Acme project 1", "Acme project 2"
    add(beta, date(2026, 3, 1), audio=90)
    add(alpha, date(2026, 3, 1), audio=30)
    add(alpha, date(2026, 3, 2), video_hd=61)
    add(beta, date(2026, 3, 3))  # a pulled day without usage: no row
    qs = all_projects(acme)

    report = usage_report(qs, date(2026, 3, 1), date(2026, 3, 3), breakdown=True)

    rows = report.rows
    assert [(row.label, row.project.name, row.seconds, row.minutes) for row in rows] == [
        ("2026-03-01", alpha.name, seconds(audio=30), mins(audio=1)),
        ("2026-03-01", beta.name, seconds(audio=90), mins(audio=2)),
        ("2026-03-02", alpha.name, seconds(video_hd=61), mins(video_hd=2)),
    ]
    assert rows[0].project.project_id == alpha.project_id and rows[0].project.pk == alpha.pk
    assert report.breakdown_count == report.row_count == 3
    assert report.breakdown_rows(1, 2) == rows[1:2]
    assert list(report.iter_rows()) == rows
    # The periods (chart) are still the sums over the projects.
    assert report.periods[0].seconds == seconds(audio=120)
    assert report.periods[0].minutes == mins(audio=3)  # the projects' rows: 1 + 2


def test_the_breakdown_by_month_sums_each_projects_days(acme):
    alpha, beta = acme.projects
    for day in (1, 15, 28):
        add(alpha, date(2026, 2, day), audio=20)
    add(beta, date(2026, 2, 3), video_2k=5)
    add(beta, date(2026, 3, 3), video_2k=65)

    report = usage_report(all_projects(acme), date(2026, 2, 10), date(2026, 3, 31), "default", "month", True)

    assert [(row.label, row.start, row.project.name, row.seconds) for row in report.rows] == [
        ("2026-02", date(2026, 2, 10), alpha.name, seconds(audio=40)),  # the 1st is before the range
        ("2026-03", date(2026, 3, 1), beta.name, seconds(video_2k=65)),
    ]
    assert report.breakdown_count == 2


def test_only_the_given_projects_count(acme, globex):
    alpha, beta = acme.projects
    add(alpha, date(2026, 3, 1), audio=60)
    add(beta, date(2026, 3, 1), audio=120)
    add(globex.projects[0], date(2026, 3, 1), audio=6000)

    everything = usage_report(all_projects(acme), date(2026, 3, 1), date(2026, 3, 1), breakdown=True)
    assert everything.totals.minutes[0] == 3
    assert {row.project.pk for row in everything.rows} == {alpha.pk, beta.pk}

    one = usage_report(Project.objects.filter(pk=beta.pk), date(2026, 3, 1), date(2026, 3, 1), breakdown=True)
    assert one.totals.minutes[0] == 2
    assert [row.project.pk for row in one.rows] == [beta.pk]


def test_a_scoped_member_sees_only_the_usage_of_their_projects(acme):
    alpha, beta = acme.projects
    add(alpha, date(2026, 3, 1), audio=60)
    add(beta, date(2026, 3, 1), audio=600)
    admin = acme.membership("admin")
    role = create_role(admin, name="Beta watchers", levels={"usage": "view"}, all_projects=False, projects=[beta])
    user = User.objects.create_user("scoped@acme.test", "x" * 12)
    scoped = Membership.objects.create(user=user, organization=acme.organization, role=role)

    report = usage_report(restrict(Project, scoped), date(2026, 3, 1), date(2026, 3, 1), breakdown=True)

    assert report.totals.seconds == seconds(audio=600)
    assert [row.project.pk for row in report.rows] == [beta.pk]


def test_one_business_at_a_time(acme):
    project = acme.projects[0]
    add(project, date(2026, 3, 1), audio=60)
    add(project, date(2026, 3, 1), business="cloudRecording", video_hd=600)
    qs = all_projects(acme)
    assert usage_report(qs, date(2026, 3, 1), date(2026, 3, 1)).totals.seconds == seconds(audio=60)
    recording = usage_report(qs, date(2026, 3, 1), date(2026, 3, 1), business="cloudRecording", breakdown=True)
    assert recording.totals.seconds == seconds(video_hd=600)
    assert [row.seconds for row in recording.rows] == [seconds(video_hd=600)]
    assert not usage_report(qs, date(2026, 3, 1), date(2026, 3, 1), business="miniapp").has_usage


def test_no_usage_and_no_projects(acme):
    report = usage_report(Project.objects.none(), date(2026, 3, 1), date(2026, 3, 31), breakdown=True)
    assert not report.has_usage
    assert report.rows == [] and report.breakdown_count == 0
    assert len(report.periods) == 31 and report.totals.seconds == ZERO


def test_bad_arguments_are_refused(acme):
    with pytest.raises(ValueError):
        usage_report(all_projects(acme), date(2026, 3, 2), date(2026, 3, 1))
    with pytest.raises(ValueError):
        usage_report(all_projects(acme), date(2026, 3, 1), date(2026, 3, 2), granularity="week")


def _fill(org, project_count, days, start):
    projects = list(org.projects) + [
        Project.objects.create(organization=org.organization, name=f"Extra {n}") for n in range(project_count - 2)
    ]
    DailyUsage.objects.bulk_create(
        DailyUsage(project=p, date=start + timedelta(days=d), audio=61 + d, video_hd=n)
        for n, p in enumerate(projects)
        for d in range(days)
    )
    return projects


@pytest.mark.parametrize("project_count, days", [(2, 3), (25, 120)])
@pytest.mark.parametrize("granularity", ["day", "month"])
def test_a_constant_number_of_queries(acme, django_assert_max_num_queries, project_count, days, granularity):
    start = date(2025, 11, 1)
    _fill(acme, project_count, days, start)
    qs = all_projects(acme)
    with django_assert_max_num_queries(1):
        report = usage_report(qs, start, start + timedelta(days=days - 1), granularity=granularity)
        assert report.totals.seconds[0] == sum(61 + d for d in range(days)) * project_count
    with django_assert_max_num_queries(2 if granularity == "day" else 3):  # by month, the rows are counted apart
        report = usage_report(qs, start, start + timedelta(days=days - 1), granularity=granularity, breakdown=True)
        page = report.breakdown_rows(0, 100)
    expected_rows = project_count * (days if granularity == "day" else len(report.periods))
    assert report.breakdown_count == expected_rows
    assert len(page) == min(100, expected_rows)


def test_the_glance_has_month_to_date_minutes_and_30_days(acme):
    project = acme.projects[0]
    today = date(2026, 3, 10)
    for offset in range(40):
        add(project, today - timedelta(days=offset), audio=30, video_hd=90)
    add(project, today, business="recording", audio=10_000)

    glance = usage_glance(all_projects(acme), today)

    assert glance.month_start == date(2026, 3, 1)
    assert glance.month_to_date.seconds == seconds(audio=300, video_hd=900)
    assert glance.month_to_date.minutes == mins(audio=10, video_hd=20)  # 10 days of 1 + 2 minutes
    assert glance.tiers[0] == ("Audio", 10)
    assert len(glance.daily) == 30 and glance.daily[0].start == date(2026, 2, 9) and glance.daily[-1].start == today
    assert glance.daily_minutes == [1 + 2] * 30


def test_the_glance_covers_a_month_longer_than_30_days(acme):
    project = acme.projects[0]
    add(project, date(2026, 3, 1), audio=60)
    glance = usage_glance(all_projects(acme), date(2026, 3, 31))
    assert glance.month_to_date.minutes[0] == 1
    assert len(glance.daily) == 30 and glance.daily[0].start == date(2026, 3, 2)
