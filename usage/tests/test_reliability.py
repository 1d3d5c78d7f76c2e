"""Reliability of the pull pipeline over real HTTP against the sandbox (live_server):

- with 30% of upstream calls failing (500, 429, answers slower than the client's timeout, malformed JSON),
  a one-year backfill of five projects, run again until a run succeeds, stores exactly what a fault-free
  run would (computed independently from usage.synthetic), without a duplicate row;
- windows a run failed are filled in by the next run;
- two pulls of the same window at once (two threads, PostgreSQL) leave the same rows as one pull.
"""

import time
from datetime import timedelta

import pytest
from django.core.servers.basehttp import WSGIRequestHandler
from django.db import connection
from django.db.models import Count, Sum
from django.utils import timezone

from conftest import run_together, skip_or_fail
from projects import services as project_services
from usage.client import UpstreamClient
from usage.models import DURATION_FIELDS, DailyUsage, PullRun
from usage.pulling import create_run, execute_run, sync_mappings
from usage.synthetic import usage_for_day

pytestmark = pytest.mark.django_db(transaction=True)

FAULTS = {"error_rate": 0.3, "faults": ["500", "429", "slow", "malformed"], "retry_after": 0}
TIMEOUT = 0.3
COLUMNS = list(DURATION_FIELDS.values())


def short_sleep(seconds: float) -> None:
    time.sleep(min(seconds, 0.01))


def past_year() -> tuple:
    """365 finished days (today's figures still change, so the window ends before yesterday)."""
    last = timezone.now().date() - timedelta(days=2)
    return last - timedelta(days=364), last


def fault_free_totals(projects, day_from, day_to) -> dict:
    """What the upstream holds, per project and column, summed straight from the synthetic model."""
    totals = {}
    for project in projects:
        sums = dict.fromkeys(COLUMNS, 0)
        day = day_from
        while day <= day_to:
            for field, seconds in usage_for_day(project.project_id, day).items():
                sums[DURATION_FIELDS[field]] += seconds
            day += timedelta(days=1)
        totals[project.pk] = sums
    return totals


def stored_totals() -> dict:
    rows = DailyUsage.objects.filter(business="default").values("project").annotate(**{c: Sum(c) for c in COLUMNS})
    return {row.pop("project"): row for row in rows}


def rows_snapshot() -> list[tuple]:
    return list(
        DailyUsage.objects.order_by("project", "date", "business").values_list("project", "date", "business", *COLUMNS)
    )


def assert_no_duplicates():
    dupes = DailyUsage.objects.values("project", "date", "business").annotate(n=Count("id")).filter(n__gt=1)
    assert not dupes.exists()


def backfill(org, day_from, day_to, **client_options) -> PullRun:
    client = UpstreamClient.for_upstream(org.organization.upstream, sleep=short_sleep, **client_options)
    run = create_run(org.organization, day_from, day_to, trigger=PullRun.Trigger.CONSOLE)
    return execute_run(run, client=client)


@pytest.fixture(autouse=True)
def _answers_without_nagle_delay(monkeypatch):
    """The test server writes an answer's headers and body apart: on a kept-alive connection Nagle's
    algorithm and delayed ACKs then hold every answer back 40 ms. Production servers don't; ours needn't."""
    monkeypatch.setattr(WSGIRequestHandler, "disable_nagle_algorithm", True)


@pytest.fixture
def five_projects(acme, live_server, settings):
    settings.USAGE_UPSTREAM_URL = live_server.url + "/sandbox"
    admin = acme.membership("admin")
    extra = [project_services.create_project(admin, name=f"Acme project {n}") for n in (3, 4, 5)]
    return [*acme.projects, *extra]


def test_a_backfill_under_30_percent_faults_ends_with_fault_free_totals(acme, five_projects, settings):
    slow = TIMEOUT + 0.2
    settings.USAGE_SANDBOX_FAULTS = {**FAULTS, "slow_seconds": slow}
    settings.USAGE_HTTP_TIMEOUT = TIMEOUT
    settings.USAGE_HTTP_RETRIES = 4
    day_from, day_to = past_year()

    runs = []
    for _ in range(5):  # the same backfill again until one run goes through without a failed window
        runs.append(backfill(acme, day_from, day_to))
        assert_no_duplicates()
        if runs[-1].status == PullRun.Status.SUCCEEDED:
            break
    assert runs[-1].status == PullRun.Status.SUCCEEDED, [(r.status, r.error) for r in runs]

    assert all(run.windows_total == 5 * 12 for run in runs)
    requests_needed = 5 * 12 + 1  # one call per window and the project listing
    assert runs[0].attempts > requests_needed, "no fault was injected: the test proves nothing"
    assert DailyUsage.objects.count() == 5 * 365
    assert stored_totals() == fault_free_totals(five_projects, day_from, day_to)
    days = DailyUsage.objects.values("project").annotate(days=Count("date", distinct=True))
    assert {row["days"] for row in days} == {365}
    time.sleep(slow)  # let answers the client gave up on finish before the test database goes


def test_windows_a_run_failed_are_filled_by_the_next_run(acme, five_projects, settings):
    upstream = acme.organization.upstream
    sync_mappings(
        upstream, UpstreamClient.for_upstream(upstream).projects()
    )  # mapped first: the listing can't fail below
    # No retries at all: with 30% of calls failing, some of the 60 windows fail (all succeed: 0.7**60).
    settings.USAGE_SANDBOX_FAULTS = {**FAULTS, "faults": ["500", "429", "malformed"]}
    day_from, day_to = past_year()
    first = backfill(acme, day_from, day_to, retries=0)
    assert first.status == PullRun.Status.PARTIAL, first.error
    assert first.windows_failed > 0 and first.windows_done + first.windows_failed == first.windows_total
    assert DailyUsage.objects.count() < 5 * 365
    assert first.error.count("\n") + 1 >= first.windows_failed

    settings.USAGE_SANDBOX_FAULTS = {}
    second = backfill(acme, day_from, day_to, retries=0)
    assert second.status == PullRun.Status.SUCCEEDED, second.error
    assert DailyUsage.objects.count() == 5 * 365
    assert_no_duplicates()
    assert stored_totals() == fault_free_totals(five_projects, day_from, day_to)


# Two pulls at once --------------------------------------------------------------------------------


def test_two_pulls_of_the_same_window_at_once_leave_the_rows_of_one_pull(acme, live_server, settings):
    if connection.vendor != "postgresql":
        skip_or_fail("concurrent pulls need PostgreSQL (set DATABASE_URL=postgres://...)")
    settings.USAGE_UPSTREAM_URL = live_server.url + "/sandbox"
    last = timezone.now().date() - timedelta(days=2)
    window = (last - timedelta(days=89), last)

    def one_pull():
        run = create_run(acme.organization, *window, trigger=PullRun.Trigger.CONSOLE)
        return execute_run(run).status

    outcomes = run_together(one_pull, one_pull)
    assert outcomes == [None, None], outcomes  # neither crashed
    runs = list(PullRun.objects.all())
    skipped = [r for r in runs if r.status != PullRun.Status.SUCCEEDED]
    for run in skipped:  # only the lock may have turned a pull away
        assert all("another pull of this project is running" in line for line in run.error.splitlines()), run.error
    if skipped:
        assert one_pull() == PullRun.Status.SUCCEEDED  # the skipped part, pulled again
    assert_no_duplicates()
    together = rows_snapshot()
    assert len(together) == 2 * 90

    DailyUsage.objects.all().delete()
    assert one_pull() == PullRun.Status.SUCCEEDED
    assert rows_snapshot() == together
