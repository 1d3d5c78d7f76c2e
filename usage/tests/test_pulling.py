"""usage.pulling against a fake Agora upstream over real HTTP: windows, mappings, idempotent upserts,
per-window failure, the per-project lock and the run's bookkeeping."""

from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from usage import pulling
from usage.client import UpstreamClient
from usage.models import DURATION_FIELDS, DailyUsage, ProjectMapping, PullLock, PullRun
from usage.pulling import (
    LOCK_TTL,
    WINDOW_DAYS,
    create_run,
    execute_run,
    project_lock,
    sync_mappings,
    upsert_days,
    windows,
)
from usage.synthetic import usage_for_day
from usage.tests.test_client import FakeUpstream, Reply, Sleeps

# Windows ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day_from", "day_to", "count"),
    [
        (date(2025, 1, 1), date(2025, 1, 1), 1),
        (date(2025, 1, 1), date(2025, 1, 31), 1),
        (date(2025, 1, 1), date(2025, 2, 1), 2),
        (date(2025, 1, 1), date(2025, 12, 31), 12),  # 365 days
        (date(2024, 1, 1), date(2024, 12, 31), 12),  # 366 days
        (date(2024, 2, 20), date(2024, 3, 5), 1),  # over a leap day
        (date(2023, 12, 31), date(2026, 1, 1), 24),
    ],
)
def test_windows_cover_the_range_exactly_in_chunks_of_at_most_31_days(day_from, day_to, count):
    chunks = windows(day_from, day_to)
    assert len(chunks) == count
    assert chunks[0][0] == day_from and chunks[-1][1] == day_to
    for start, end in chunks:
        assert start <= end and (end - start).days + 1 <= WINDOW_DAYS
    for (_, end), (start, _) in zip(chunks, chunks[1:], strict=False):
        assert start == end + timedelta(days=1)  # no gap, no overlap
    days = sum((end - start).days + 1 for start, end in chunks)
    assert days == (day_to - day_from).days + 1
    assert all((end - start).days + 1 == WINDOW_DAYS for start, end in chunks[:-1])  # only the last is short


def test_windows_of_an_empty_range_and_of_another_size():
    assert windows(date(2025, 1, 2), date(2025, 1, 1)) == []
    assert windows(date(2025, 1, 1), date(2025, 1, 10), size=4) == [
        (date(2025, 1, 1), date(2025, 1, 4)),
        (date(2025, 1, 5), date(2025, 1, 8)),
        (date(2025, 1, 9), date(2025, 1, 10)),
    ]


# A fake Agora ------------------------------------------------------------------------------------


class Agora:
    """Agora's two GET calls, for the given projects under upstream ids of its own ("up-<pk>").

    `bump` is added to every figure (the upstream revised its numbers); `bad` holds from_dates answered with
    a negative figure on the window's last day; `status` maps from_dates to an error status.
    """

    def __init__(self, projects):
        self.projects = list(projects)
        self.bump = 0
        self.bad: set[str] = set()
        self.status: dict[str, int] = {}
        self.listing_status = 200

    @staticmethod
    def upstream_id(project) -> str:
        return f"up-{project.pk}"

    def figures(self, upstream_id: str, day: date) -> dict:
        return {name: value + self.bump for name, value in usage_for_day(upstream_id, day).items()}

    def __call__(self, seen):
        if seen.path == "/dev/v1/projects":
            listing = [
                {"id": self.upstream_id(p), "vendor_key": p.app_id.upper(), "name": p.name} for p in self.projects
            ]
            return Reply(
                self.listing_status, {"projects": listing} if self.listing_status == 200 else {"message": "no"}
            )
        query = seen.query
        if query["from_date"] in self.status:
            return Reply(self.status[query["from_date"]], {"message": "upstream trouble"})
        day, last = date.fromisoformat(query["from_date"]), date.fromisoformat(query["to_date"])
        usages = []
        while day <= last:
            usage = self.figures(query["project_id"], day)
            if day == last and query["from_date"] in self.bad:
                usage["durationVideoHd"] = -1
            usages.append({"date": f"{day}T00:00:00.000Z", "usage": usage})
            day += timedelta(days=1)
        return Reply(body={"meta": {}, "usages": usages})

    def expected(self, project, day: date) -> dict:
        return {DURATION_FIELDS[k]: v for k, v in self.figures(self.upstream_id(project), day).items()}


@pytest.fixture
def agora(acme, settings):
    """Acme's usage upstream is a fake Agora that knows both Acme projects (on loopback, which the operator
    allows for the test)."""
    fake_agora = Agora(acme.projects)
    server = FakeUpstream(fake_agora)
    fake_agora.server = server
    settings.USAGE_UPSTREAM_ALLOWED_HOSTS = [urlsplit(server.url).netloc]
    upstream = acme.organization.upstream
    upstream.base_url = server.url
    upstream.save()
    yield fake_agora
    server.close()


def pull(org, day_from, day_to, *, project=None, client=None, **options) -> PullRun:
    run = create_run(org.organization, day_from, day_to, trigger=PullRun.Trigger.CONSOLE, project=project)
    upstream = org.organization.upstream
    client = client or UpstreamClient.for_upstream(upstream, timeout=5.0, retries=2, sleep=Sleeps())
    return execute_run(run, client=client, **options)


def stored(project, business="default") -> dict[date, dict]:
    rows = DailyUsage.objects.filter(project=project, business=business).order_by("date")
    return {row.date: {column: getattr(row, column) for column in DURATION_FIELDS.values()} for row in rows}


def days_between(day_from, day_to):
    return [day_from + timedelta(days=n) for n in range((day_to - day_from).days + 1)]


JAN = (date(2025, 1, 1), date(2025, 1, 31))
Q1 = (date(2025, 1, 1), date(2025, 3, 15))  # windows: 01-01..01-31, 02-01..03-03, 03-04..03-15


# Mappings ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_sync_mappings_matches_app_ids_case_insensitively_and_keeps_hand_set_ones(acme, globex):
    first, second = acme.projects
    upstream = acme.organization.upstream
    listing = [
        {"id": "u-first", "vendor_key": first.app_id.upper()},
        {"id": "u-globex", "vendor_key": globex.projects[0].app_id},  # not Acme's: never mapped to Acme
        {"id": "u-stranger", "vendor_key": "f" * 32},
    ]
    assert sync_mappings(upstream, listing) == 1
    assert ProjectMapping.objects.get(project=first).upstream_project_id == "u-first"
    assert not ProjectMapping.objects.filter(project=second).exists()
    assert not ProjectMapping.objects.filter(project=globex.projects[0]).exists()

    ProjectMapping.objects.create(project=second, upstream_project_id="by-hand", matched_automatically=False)
    listing = [
        {"id": "u-first-moved", "vendor_key": first.app_id.lower()},
        {"id": "u-second", "vendor_key": second.app_id},
    ]
    assert sync_mappings(upstream, listing) == 1
    assert ProjectMapping.objects.get(project=first).upstream_project_id == "u-first-moved"  # automatic: follows
    hand = ProjectMapping.objects.get(project=second)
    assert (hand.upstream_project_id, hand.matched_automatically) == ("by-hand", False)  # by hand: kept
    assert ProjectMapping.objects.count() == 2


@pytest.mark.django_db
def test_a_pull_maps_projects_first_and_asks_by_upstream_id(acme, agora):
    run = pull(acme, *JAN)
    assert run.status == PullRun.Status.SUCCEEDED, run.error
    for project in acme.projects:
        assert ProjectMapping.objects.get(project=project).upstream_project_id == agora.upstream_id(project)
        assert stored(project) == {day: agora.expected(project, day) for day in days_between(*JAN)}
    asked = [seen.query["project_id"] for seen in agora.server.seen if seen.path == "/dev/v3/usage"]
    assert sorted(asked) == sorted(agora.upstream_id(p) for p in acme.projects)

    seen_before = len(agora.server.seen)
    pull(acme, *JAN)
    assert [s.path for s in agora.server.seen[seen_before:]] == ["/dev/v3/usage"] * 2  # mapped: no listing


@pytest.mark.django_db
def test_a_project_the_upstream_does_not_know_is_reported(acme, agora):
    known, unknown = acme.projects
    agora.projects = [known]
    run = pull(acme, *Q1)
    assert run.status == PullRun.Status.PARTIAL
    assert f"{unknown.name}: no upstream project has its App ID" in run.error
    assert (run.windows_total, run.windows_done, run.windows_failed) == (6, 3, 3)
    assert len(stored(known)) == 74 and stored(unknown) == {}


@pytest.mark.django_db
def test_a_failed_listing_is_recorded(acme, agora):
    agora.listing_status = 500
    run = pull(acme, *JAN)
    assert run.status == PullRun.Status.FAILED
    assert "Listing the upstream's projects failed" in run.error and "500" in run.error
    assert run.windows_failed == 2 and DailyUsage.objects.count() == 0


@pytest.mark.django_db
def test_an_organization_without_upstream_fails_with_a_message(acme):
    acme.organization.upstream.delete()
    run = execute_run(create_run(acme.organization, *JAN, trigger=PullRun.Trigger.CONSOLE))
    assert run.status == PullRun.Status.FAILED and "no usage upstream" in run.error
    assert run.finished_at is not None


# Writing ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_upsert_days_replaces_rows_and_keeps_businesses_apart(acme):
    project = acme.projects[0]
    day = date(2025, 5, 1)
    figures = {column: 10 for column in DURATION_FIELDS.values()}
    assert upsert_days(project, "default", {day: figures, day + timedelta(days=1): figures}) == 2
    first_pulled_at = DailyUsage.objects.get(project=project, date=day).pulled_at
    changed = {**figures, "audio": 99, "video_2k": 0}
    assert upsert_days(project, "default", {day: changed}) == 1
    assert upsert_days(project, "cloudRecording", {day: figures}) == 1
    assert DailyUsage.objects.count() == 3
    row = DailyUsage.objects.get(project=project, date=day, business="default")
    assert (row.audio, row.video_2k, row.video_hd) == (99, 0, 10)
    assert row.pulled_at > first_pulled_at
    assert DailyUsage.objects.get(project=project, date=day, business="cloudRecording").audio == 10
    assert upsert_days(project, "default", {}) == 0


@pytest.mark.django_db
def test_a_re_pull_with_revised_numbers_updates_rows_without_adding_any(acme, agora):
    first = pull(acme, *Q1)
    assert first.status == PullRun.Status.SUCCEEDED and first.rows_written == 2 * 74
    assert DailyUsage.objects.count() == 2 * 74
    agora.bump = 1000
    again = pull(acme, *Q1)
    assert again.status == PullRun.Status.SUCCEEDED and again.rows_written == 2 * 74
    assert DailyUsage.objects.count() == 2 * 74
    for project in acme.projects:
        assert stored(project) == {day: agora.expected(project, day) for day in days_between(*Q1)}


@pytest.mark.django_db
def test_a_bad_answer_for_one_window_writes_nothing_for_it_while_the_others_land(acme, agora):
    pull(acme, *Q1)
    before = {project.pk: stored(project) for project in acme.projects}
    agora.bump = 7
    agora.bad = {"2025-02-01"}  # the second window's last day has a negative figure
    run = pull(acme, *Q1, project=acme.projects[0])
    assert run.status == PullRun.Status.PARTIAL
    assert (run.windows_total, run.windows_done, run.windows_failed) == (3, 2, 1)
    assert run.rows_written == 31 + 12
    assert "2025-02-01..2025-03-03" in run.error and "durationVideoHd" in run.error
    project = acme.projects[0]
    now_stored = stored(project)
    for day in days_between(*Q1):
        if date(2025, 2, 1) <= day <= date(2025, 3, 3):
            assert now_stored[day] == before[project.pk][day]  # the bad window kept the old rows
        else:
            assert now_stored[day] == agora.expected(project, day)  # the others have the new numbers
    assert stored(acme.projects[1]) == before[acme.projects[1].pk]  # not part of this run


@pytest.mark.django_db
def test_a_window_the_upstream_keeps_failing_is_retried_then_counted_failed(acme, agora):
    agora.status = {"2025-03-04": 503}
    run = pull(acme, *Q1)
    assert run.status == PullRun.Status.PARTIAL
    assert (run.windows_done, run.windows_failed) == (4, 2)
    assert run.error.count("503") == 2
    asked = [s.query["from_date"] for s in agora.server.seen if s.path == "/dev/v3/usage"]
    assert asked.count("2025-03-04") == 2 * 3  # each project: the first try and two retries
    assert DailyUsage.objects.count() == 2 * (31 + 31)

    agora.status = {day: 503 for day in ("2025-01-01", "2025-02-01", "2025-03-04")}
    assert pull(acme, *Q1).status == PullRun.Status.FAILED


@pytest.mark.django_db
def test_each_business_is_pulled_and_stored_on_its_own(acme, agora):
    run = pull(acme, *JAN, project=acme.projects[0], business="cloudRecording")
    assert run.status == PullRun.Status.SUCCEEDED
    assert set(DailyUsage.objects.values_list("business", flat=True)) == {"cloudRecording"}
    assert {s.query["business"] for s in agora.server.seen if s.path == "/dev/v3/usage"} == {"cloudRecording"}


# Run bookkeeping ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_run_records_windows_rows_attempts_and_times(acme, agora):
    agora.status = {}
    flaky = iter([503])  # the first usage call fails once, then the upstream recovers
    answer = agora.__call__

    def once_flaky(seen):
        if seen.path == "/dev/v3/usage" and (status := next(flaky, None)):
            return Reply(status, {"message": "busy"})
        return answer(seen)

    agora.server.answer = once_flaky
    progress = []
    run = pull(acme, *Q1, progress=lambda r: progress.append((r.windows_done, r.windows_failed, r.rows_written)))
    run.refresh_from_db()
    assert run.status == PullRun.Status.SUCCEEDED and run.error == ""
    assert (run.windows_total, run.windows_done, run.windows_failed) == (6, 6, 0)
    assert run.rows_written == 2 * 74 == DailyUsage.objects.count()
    assert run.attempts == len(agora.server.seen) == 1 + 6 + 1  # listing, six windows, one retry
    assert run.created_at <= run.started_at <= run.finished_at and run.duration.total_seconds() >= 0
    assert run.progress_percent == 100 and not run.is_active
    assert run.trigger == PullRun.Trigger.CONSOLE
    assert [done for done, _, _ in progress] == [1, 2, 3, 4, 5, 6]
    assert progress[-1][2] == 2 * 74
    assert PullLock.objects.count() == 0  # released


@pytest.mark.django_db
def test_progress_is_saved_while_the_run_goes(acme, agora):
    saved = []
    pull(acme, *Q1, progress=lambda r: saved.append(PullRun.objects.values_list("windows_done", "status").get(pk=r.pk)))
    assert saved == [(n, PullRun.Status.RUNNING) for n in range(1, 7)]


@pytest.mark.django_db
def test_attempts_count_only_this_runs_requests(acme, agora):
    client = UpstreamClient.for_upstream(acme.organization.upstream, retries=0, sleep=Sleeps())
    first = pull(acme, *JAN, client=client)
    second = pull(acme, *JAN, client=client)  # the same client, used again
    assert (first.attempts, second.attempts) == (3, 2)


@pytest.mark.django_db
def test_executing_the_same_run_again_counts_afresh(acme, agora):
    run = pull(acme, *Q1)
    again = execute_run(run, client=UpstreamClient.for_upstream(acme.organization.upstream, sleep=Sleeps()))
    again.refresh_from_db()
    assert (again.windows_total, again.windows_done, again.windows_failed) == (6, 6, 0)
    assert again.rows_written == 2 * 74 and again.progress_percent == 100


@pytest.mark.django_db
def test_an_unexpected_error_ends_the_run_as_failed_and_goes_on_up(acme, agora, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(pulling, "upsert_days", broken)
    run = create_run(acme.organization, *JAN, trigger=PullRun.Trigger.CONSOLE)
    with pytest.raises(RuntimeError, match="disk full"):
        execute_run(run, client=UpstreamClient.for_upstream(acme.organization.upstream, sleep=Sleeps()))
    run.refresh_from_db()
    assert run.status == PullRun.Status.FAILED and "unexpected error (RuntimeError)" in run.error
    assert "disk full" not in run.error  # the text of an unexpected error is for the log only
    assert run.finished_at is not None and not run.is_active
    assert PullLock.objects.count() == 0


# The lock ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_held_lock_makes_another_pull_of_the_project_skip_it(acme, agora):
    busy, free = acme.projects
    held = PullLock.objects.create(project=busy)
    run = pull(acme, *Q1)
    assert run.status == PullRun.Status.PARTIAL
    assert f"{busy.name}: another pull of this project is running" in run.error
    assert (run.windows_done, run.windows_failed) == (3, 3)
    assert stored(busy) == {} and len(stored(free)) == 74
    assert list(PullLock.objects.values_list("pk", flat=True)) == [held.pk]  # the holder's lock stays

    only_busy = pull(acme, *Q1, project=busy)
    assert only_busy.status == PullRun.Status.FAILED and "another pull" in only_busy.error


@pytest.mark.django_db
def test_a_stale_lock_is_taken_over(acme, agora):
    project = acme.projects[0]
    PullLock.objects.create(project=project, acquired_at=timezone.now() - LOCK_TTL - timedelta(minutes=1))
    run = pull(acme, *JAN, project=project)
    assert run.status == PullRun.Status.SUCCEEDED, run.error
    assert len(stored(project)) == 31
    assert PullLock.objects.count() == 0

    PullLock.objects.create(project=project, acquired_at=timezone.now() - LOCK_TTL + timedelta(minutes=1))
    assert pull(acme, *JAN, project=project).status == PullRun.Status.FAILED  # not stale yet


@pytest.mark.django_db
def test_a_holder_whose_lock_was_taken_over_leaves_the_new_holders_lock(acme):
    project = acme.projects[0]
    with project_lock(project) as lock:
        assert lock
        with project_lock(project) as second:
            assert not second  # fresh: nobody else gets it
        # This holder stalled past LOCK_TTL; another worker takes the project over and is still pulling.
        PullLock.objects.filter(pk=lock.pk).update(acquired_at=timezone.now() - LOCK_TTL - timedelta(seconds=1))
        taker = pulling._acquire(project)
        assert taker is not None and taker.pk != lock.pk
    assert list(PullLock.objects.values_list("pk", flat=True)) == [taker.pk]


@pytest.mark.django_db
def test_a_long_pull_keeps_its_lock_fresh(acme, agora):
    project = acme.projects[0]
    ages = []

    def progress(run):
        lock = PullLock.objects.get(project=project)
        ages.append(timezone.now() - lock.acquired_at)
        PullLock.objects.filter(pk=lock.pk).update(acquired_at=timezone.now() - LOCK_TTL)  # time passes

    pull(acme, *Q1, project=project, progress=progress)
    assert len(ages) == 3
    assert all(age < timedelta(minutes=1) for age in ages)  # refreshed after every window, never stale
