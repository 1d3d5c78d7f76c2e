"""A pull run survives its worker.

The reaper (usage.pulling.reap_stale_runs, on the beat schedule): a running run whose heartbeat stopped is
re-queued with its project lock released, counted and audited; a fresh one is left alone; one lost too often
fails; a queued run nobody claimed is sent again. The next execution resumes at the first window not yet
written and ends with the rows and counts of a run that was never interrupted. A worker that wakes up after its
run was given away writes nothing over the new execution. `pull_recent`, delivered again after its
worker died, starts no second run of what is pending. The Data sync page says a run was resumed.

Then for real: a `celery -A console worker` process pulls a two-year backfill from the sandbox over HTTP and is
killed with SIGKILL half-way; a new worker and the reaper finish the run with a clean run's rows (Redis, and the
embedded filesystem broker).
"""

import time
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from prometheus_client import REGISTRY

from accounts.models import AuditEntry
from usage import tasks
from usage.client import UpstreamClient
from usage.models import DURATION_FIELDS, DailyUsage, PullLock, PullRun
from usage.pulling import MAX_RESUMES, create_run, execute_run, reap_stale_runs
from usage.tests.test_client import FakeUpstream, Sleeps
from usage.tests.test_pulling import Agora
from usage.tests.worker_process import STALE_AFTER, Workers, broker, wait_for  # noqa: F401  (broker: the fixture)

Q1 = (date(2026, 1, 1), date(2026, 3, 31))  # three windows per project, from Jan 1, Feb 1 and Mar 4
STALE = timedelta(minutes=10)
COLUMNS = list(DURATION_FIELDS.values())


class WorkerKilled(BaseException):
    """Stands for SIGKILL inside this process: nothing the run does on an error runs (no `except Exception`)."""


@pytest.fixture
def agora(acme, settings):
    """Acme's upstream is a fake Agora over HTTP; the default client makes no retry (one request a window)."""
    fake = Agora(acme.projects)
    fake.server = FakeUpstream(fake)
    settings.USAGE_UPSTREAM_ALLOWED_HOSTS = [urlsplit(fake.server.url).netloc]
    settings.USAGE_HTTP_RETRIES = 0
    settings.PULL_RUN_STALE_AFTER = STALE
    upstream = acme.organization.upstream
    upstream.base_url = fake.server.url
    upstream.save()
    yield fake
    fake.server.close()


@pytest.fixture
def sent(monkeypatch) -> list[int]:
    """Records execute_pull_run.delay calls instead of sending them to a broker."""
    calls = []
    monkeypatch.setattr(tasks.execute_pull_run, "delay", calls.append)
    return calls


def usage_windows(agora) -> list[tuple[str, str]]:
    return [(s.query["project_id"], s.query["from_date"]) for s in agora.server.seen if s.path == "/dev/v3/usage"]


def rows(using: str = "default") -> list[tuple]:
    ordered = DailyUsage.objects.using(using).order_by("project", "date", "business")
    return list(ordered.values_list("project", "date", "business", *COLUMNS))


def killed_after(windows: int):
    """A progress callback that kills the 'worker' once `windows` windows are written."""

    def progress(run):
        if run.windows_done + run.windows_failed == windows:
            raise WorkerKilled

    return progress


def start_and_kill(org, *, after: int, project=None) -> PullRun:
    """A queued run taken by a worker that dies after `after` windows: left running, its lock held."""
    run = create_run(org.organization, *Q1, trigger=PullRun.Trigger.CONSOLE, project=project)
    client = UpstreamClient.for_upstream(org.organization.upstream, retries=0, sleep=Sleeps())
    with pytest.raises(WorkerKilled):
        execute_run(run, client=client, progress=killed_after(after))
    run.refresh_from_db()
    # A killed process runs no `finally`: its lock would still be there.
    PullLock.objects.create(project_id=run.done_through_project, run=run)
    return run


def age(run: PullRun, by: timedelta) -> None:
    PullRun.objects.filter(pk=run.pk).update(heartbeat_at=F("heartbeat_at") - by)


# The reaper --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_running_run_with_a_fresh_heartbeat_is_left_alone(acme, agora, sent):
    run = start_and_kill(acme, after=2)
    age(run, STALE - timedelta(seconds=30))
    assert reap_stale_runs() == [] and tasks.reap_stale_pull_runs() == 0 and sent == []
    run.refresh_from_db()
    assert (run.status, run.resumed_count) == (PullRun.Status.RUNNING, 0)
    assert PullLock.objects.filter(run=run).exists()


@pytest.mark.django_db
def test_a_run_whose_heartbeat_stopped_is_requeued_its_lock_released_counted_and_audited(
    acme, agora, sent, django_capture_on_commit_callbacks
):
    run = start_and_kill(acme, after=2)
    other_project_lock = PullLock.objects.create(project=acme.projects[1])  # held by another pull
    age(run, STALE + timedelta(seconds=1))
    reaped_before = REGISTRY.get_sample_value("console_runs_reaped_total")

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.reap_stale_pull_runs() == 1
    assert REGISTRY.get_sample_value("console_runs_reaped_total") == reaped_before + 1
    assert sent == [run.pk]
    run.refresh_from_db()
    assert (run.status, run.resumed_count) == (PullRun.Status.QUEUED, 1)
    assert run.windows_done == 2 and run.done_through_project is not None  # the resume point is kept
    assert list(PullLock.objects.all()) == [other_project_lock]
    entry = AuditEntry.objects.get(action="usage.pull_resumed")
    assert entry.organization == acme.organization and entry.actor is None
    assert entry.details["run"] == run.pk and entry.details["resumed_count"] == 1

    assert reap_stale_runs() == []  # re-queued just now: its heartbeat is fresh again


@pytest.mark.django_db
def test_the_resumed_run_starts_at_the_first_unwritten_window_and_ends_with_a_clean_runs_rows(acme, agora, sent):
    first, second = sorted(acme.projects, key=lambda p: p.pk)
    run = start_and_kill(acme, after=4)  # both projects: first's three windows and second's January
    assert (run.windows_done, run.windows_total, run.done_through_project) == (4, 6, second.pk)
    agora.server.seen.clear()
    age(run, STALE + timedelta(seconds=1))
    tasks.reap_stale_pull_runs()

    assert tasks.execute_pull_run(sent[0]) == PullRun.Status.SUCCEEDED
    assert usage_windows(agora) == [(f"up-{second.pk}", "2026-02-01"), (f"up-{second.pk}", "2026-03-04")]
    run.refresh_from_db()
    assert (run.windows_done, run.windows_failed, run.windows_total) == (6, 0, 6)
    assert run.rows_written == 2 * 90 and run.attempts == 1 + 6  # listing, six windows: none twice
    assert run.error == "" and run.resumed_count == 1 and run.done_through_project is None
    assert run.started_at < run.heartbeat_at <= run.finished_at
    assert not PullLock.objects.exists()
    resumed = rows()

    DailyUsage.objects.all().delete()
    clean = execute_run(create_run(acme.organization, *Q1, trigger=PullRun.Trigger.CONSOLE))
    assert clean.status == PullRun.Status.SUCCEEDED and clean.rows_written == run.rows_written
    assert rows() == resumed


@pytest.mark.django_db
def test_a_window_that_failed_before_the_worker_was_lost_stays_failed_with_its_error(acme, agora, sent):
    project = acme.projects[0]
    agora.status["2026-01-01"] = 503
    run = start_and_kill(acme, after=2, project=project)
    assert (run.windows_done, run.windows_failed) == (1, 1) and "2026-01-01" in run.error
    age(run, STALE + timedelta(seconds=1))
    tasks.reap_stale_pull_runs()

    assert tasks.execute_pull_run(sent[0]) == PullRun.Status.PARTIAL
    run.refresh_from_db()
    assert (run.windows_done, run.windows_failed, run.windows_total) == (2, 1, 3)
    failed = f"{project.name} 2026-01-01..2026-01-31: The upstream answered 503 Service Unavailable."
    assert run.error.splitlines() == [failed]


@pytest.mark.django_db
def test_a_run_lost_too_often_fails_and_frees_its_project(acme, agora, sent):
    run = start_and_kill(acme, after=1)
    PullRun.objects.filter(pk=run.pk).update(resumed_count=MAX_RESUMES)
    age(run, STALE + timedelta(seconds=1))
    assert tasks.reap_stale_pull_runs() == 0 and sent == []
    run.refresh_from_db()
    assert run.status == PullRun.Status.FAILED and run.finished_at is not None and not run.is_active
    assert f"lost {MAX_RESUMES + 1} times" in run.error
    assert not PullLock.objects.exists()
    assert AuditEntry.objects.filter(action="usage.pull_abandoned", details__run=run.pk).count() == 1


@pytest.mark.django_db
def test_a_queued_run_no_worker_took_is_sent_again_once_per_bound(acme, agora, sent):
    waiting = create_run(acme.organization, *Q1, trigger=PullRun.Trigger.SCHEDULE)
    recent = create_run(acme.organization, *Q1, trigger=PullRun.Trigger.SCHEDULE)
    age(waiting, STALE + timedelta(seconds=1))
    assert tasks.reap_stale_pull_runs() == 1 and sent == [waiting.pk]
    assert tasks.reap_stale_pull_runs() == 0  # sent again just now
    waiting.refresh_from_db()
    assert (waiting.status, waiting.resumed_count) == (PullRun.Status.QUEUED, 0)
    assert PullRun.objects.get(pk=recent.pk).status == PullRun.Status.QUEUED
    assert not AuditEntry.objects.filter(action__startswith="usage.pull_").exists()


@pytest.mark.django_db
def test_a_worker_that_wakes_up_after_its_run_was_given_away_writes_nothing_over_it(acme, agora):
    run = create_run(acme.organization, *Q1, trigger=PullRun.Trigger.CONSOLE, project=acme.projects[0])

    def reaped_meanwhile(run):  # this worker stalled; the reaper re-queued its run and a new worker took it
        if run.windows_done == 1:
            PullRun.objects.filter(pk=run.pk).update(
                status=PullRun.Status.RUNNING, resumed_count=1, windows_done=0, rows_written=0
            )

    client = UpstreamClient.for_upstream(acme.organization.upstream, retries=0, sleep=Sleeps())
    execute_run(run, client=client, progress=reaped_meanwhile)
    run.refresh_from_db()
    assert (run.status, run.resumed_count, run.windows_done, run.rows_written) == (PullRun.Status.RUNNING, 1, 0, 0)
    assert run.finished_at is None
    assert len(usage_windows(agora)) == 2  # it stopped at its next window


@pytest.mark.django_db
def test_pull_recent_delivered_again_queues_only_the_projects_it_had_not_reached(acme, agora, sent):
    first = tasks.pull_recent()
    assert first == len(acme.projects) == len(sent)
    assert tasks.pull_recent() == 0  # the first delivery's runs are still queued
    PullRun.objects.update(status=PullRun.Status.SUCCEEDED)
    assert tasks.pull_recent() == len(acme.projects)  # the next hour


@pytest.mark.django_db
def test_the_data_sync_page_says_a_run_was_resumed(acme, agora, client_for):
    resumed = create_run(acme.organization, *Q1, trigger=PullRun.Trigger.CONSOLE)
    PullRun.objects.filter(pk=resumed.pk).update(resumed_count=2)
    create_run(acme.organization, *Q1, trigger=PullRun.Trigger.SCHEDULE)
    page = client_for(acme.users["admin"]).get(reverse("usage:sync"))
    assert page.status_code == 200
    assert page.content.decode().count("Resumed after a worker was lost (2×)") == 1
    assert page.content.decode().count("Resumed after a worker was lost") == 1


def test_the_reaper_runs_every_minute(settings):
    entries = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "usage.tasks.reap_stale_pull_runs"]
    assert len(entries) == 1 and entries[0]["schedule"].minute == set(range(60))
    assert settings.CELERY_TASK_ACKS_LATE and settings.CELERY_TASK_REJECT_ON_WORKER_LOST
    assert settings.PULL_RUN_STALE_AFTER >= timedelta(minutes=5)


# A real worker, killed ---------------------------------------------------------------------------


@pytest.fixture
def workers(transactional_db, tmp_path, broker, live_server, settings):  # noqa: F811  (the imported fixture)
    """Worker processes on the test's database (shared once the test calls `workers.share()`) and broker,
    pulling from the sandbox this test process serves; killed at the end whatever happened."""
    settings.USAGE_UPSTREAM_URL = live_server.url + "/sandbox"
    made = Workers(tmp_path, broker, None, settings.USAGE_UPSTREAM_URL)
    yield made
    made.stop_all()
    made.forget()


def two_years() -> tuple[date, date]:
    last = timezone.now().date() - timedelta(days=2)
    return last - timedelta(days=730), last


@pytest.mark.django_db(transaction=True)
@pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning")  # Celery's Redis backend
def test_a_backfill_whose_worker_is_killed_is_resumed_by_the_next_worker_with_a_clean_runs_rows(
    acme, workers, settings
):
    settings.USAGE_SANDBOX_FAULTS = {"error_rate": 1.0, "faults": ["slow"], "slow_seconds": 0.1}  # ~5 s in all
    run = create_run(acme.organization, *two_years(), trigger=PullRun.Trigger.CONSOLE)
    db = workers.share().alias
    runs = PullRun.objects.using(db)

    first = workers.start()
    workers.broker.send("usage.tasks.execute_pull_run", run.pk)
    wait_for(lambda: runs.get(pk=run.pk).windows_done >= 10, 30, "ten windows", workers.log)
    workers.kill(first)
    killed_at = timezone.now()
    at_kill = runs.get(pk=run.pk)
    assert at_kill.status == PullRun.Status.RUNNING and 10 <= at_kill.windows_done < at_kill.windows_total == 48
    assert PullLock.objects.using(db).filter(run=run.pk).exists()

    workers.start()
    time.sleep(max(0.0, (at_kill.heartbeat_at + STALE_AFTER - timezone.now()).total_seconds()) + 0.5)
    workers.broker.send("usage.tasks.reap_stale_pull_runs")
    finished = wait_for(lambda: not (r := runs.get(pk=run.pk)).is_active and r, 45, "the run to end", workers.log)

    assert finished.status == PullRun.Status.SUCCEEDED, (finished.error, workers.log())
    assert finished.resumed_count == 1
    assert (finished.windows_done, finished.windows_failed, finished.windows_total) == (48, 0, 48)
    assert finished.rows_written == 2 * 731
    # Resumed at the first unwritten window: what was written before the kill was not pulled again.
    kept = DailyUsage.objects.using(db).filter(pulled_at__lt=killed_at).count()
    assert kept == at_kill.rows_written > 0
    assert not PullLock.objects.using(db).exists()
    assert AuditEntry.objects.using(db).filter(action="usage.pull_resumed").count() == 1
    resumed = rows(db)

    settings.USAGE_SANDBOX_FAULTS = {}
    DailyUsage.objects.all().delete()
    clean = execute_run(create_run(acme.organization, *two_years(), trigger=PullRun.Trigger.CONSOLE))
    assert clean.status == PullRun.Status.SUCCEEDED
    assert rows() == resumed
