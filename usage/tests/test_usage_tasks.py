"""The usage Celery tasks for real: `pull_recent` goes through a broker (Redis, as in production, and the
embedded filesystem broker, as in development) to a worker thread, which fans out one pull per project
and pulls from the sandbox over HTTP (live_server); deliveries of the same pull run twice do the work once."""

import threading
import time
import uuid
from datetime import timedelta

import celery.contrib.testing.tasks  # noqa: F401  (registers celery.ping, which start_worker round-trips)
import pytest
import redis
from celery import Celery, _state
from celery.contrib.testing.worker import start_worker
from celery.schedules import crontab
from django.db import connection, connections
from django.utils import timezone

from conftest import TEST_REDIS_URL, skip_or_fail
from console.broker import AtomicFilesystemTransport
from console.celery import app as console_app
from projects import services as project_services
from usage import tasks
from usage.models import DailyUsage, PullRun
from usage.pulling import create_run, recent_window

PULL_RECENT = "usage.tasks.pull_recent"


def worker_app(broker_url: str, result_backend: str, **conf) -> Celery:
    """An app configured from Django settings like console.celery's, with its own broker and a fresh queue,
    so the test neither disturbs the project's app nor sees messages another run left behind."""
    app = Celery("usage-tests", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.update(
        {
            "broker_url": broker_url,
            "broker_transport": None,
            "result_backend": result_backend,
            "task_default_queue": f"usage-tests-{uuid.uuid4().hex}",
            "task_always_eager": False,
            "result_expires": timedelta(minutes=10),
            "worker_hijack_root_logger": False,
            **conf,
        }
    )
    return app


def redis_app() -> Celery:
    try:
        redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=2, socket_timeout=2).ping()
    except redis.RedisError:
        skip_or_fail(f"Redis is not running at {TEST_REDIS_URL}")
    return worker_app(TEST_REDIS_URL, TEST_REDIS_URL)


def filesystem_app(folder) -> Celery:
    for name in ("broker", "control", "results"):
        (folder / name).mkdir()
    return worker_app(
        "filesystem://",
        f"file://{folder / 'results'}",
        broker_transport=AtomicFilesystemTransport,
        broker_transport_options={
            "data_folder_in": str(folder / "broker"),
            "data_folder_out": str(folder / "broker"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
            "polling_interval": 0.05,
        },
    )


@pytest.fixture(params=["redis", "filesystem"])
def broker_app(request, tmp_path):
    """A worker-ready app on each broker; the project's current and default app are put back afterwards."""
    current, default = _state.get_current_app(), _state.default_app
    if request.param == "redis":
        request.applymarker(pytest.mark.services)
        app = redis_app()
    else:
        app = filesystem_app(tmp_path)
    yield app
    current.set_current()
    _state.default_app = default


@pytest.fixture
def sandbox(live_server, settings):
    settings.USAGE_UPSTREAM_URL = live_server.url + "/sandbox"
    return live_server


def wait_for_runs(seconds: float = 30) -> list[PullRun]:
    deadline = time.monotonic() + seconds
    while PullRun.objects.filter(status__in=[PullRun.Status.QUEUED, PullRun.Status.RUNNING]).exists():
        assert time.monotonic() < deadline, list(PullRun.objects.values("project__name", "status"))
        time.sleep(0.1)
    return list(PullRun.objects.select_related("project"))


# Through a broker, to a worker --------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning")  # Celery's Redis backend
def test_pull_recent_through_a_broker_pulls_yesterday_and_today_for_every_enabled_project(
    acme, globex, sandbox, broker_app
):
    admin = acme.membership("admin")
    disabled = project_services.create_project(admin, name="Switched off")
    project_services.set_enabled(admin, disabled, False)
    archived = project_services.create_project(admin, name="Archived")
    project_services.set_archived(admin, archived, True)
    enabled = [*acme.projects, *globex.projects]
    before = recent_window()

    with start_worker(broker_app, pool="solo", perform_ping_check=True, shutdown_timeout=20):
        # start_worker made broker_app current, so the shared tasks' .delay() sends through it.
        assert tasks.pull_recent.delay().get(timeout=30) == len(enabled)
        runs = wait_for_runs()

        # The same pull run delivered again: the first delivery did the work, the second changes nothing.
        again = runs[0]
        pulled_at = sorted(DailyUsage.objects.filter(project=again.project).values_list("pulled_at", flat=True))
        assert tasks.execute_pull_run.delay(again.pk).get(timeout=30) == PullRun.Status.SUCCEEDED
        assert sorted(DailyUsage.objects.filter(project=again.project).values_list("pulled_at", flat=True)) == pulled_at
    after = recent_window()

    assert sorted(run.project.pk for run in runs) == sorted(project.pk for project in enabled)
    for run in runs:
        assert run.status == PullRun.Status.SUCCEEDED, run.error
        assert run.trigger == PullRun.Trigger.SCHEDULE and run.organization_id == run.project.organization_id
        assert (run.date_from, run.date_to) in (before, after)
        assert run.date_to - run.date_from == timedelta(days=1) and run.rows_written == 2
        stored = set(DailyUsage.objects.filter(project=run.project).values_list("date", "business"))
        assert stored == {(run.date_from, "default"), (run.date_to, "default")}
    assert not DailyUsage.objects.filter(project__in=[disabled, archived]).exists()
    assert not PullRun.objects.filter(project__in=[disabled, archived]).exists()
    assert DailyUsage.objects.count() == 2 * len(enabled)


# Delivered twice ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_pull_run_delivered_twice_does_the_work_once(acme, sandbox):
    project = acme.projects[0]
    run = create_run(acme.organization, *recent_window(), trigger=PullRun.Trigger.SCHEDULE, project=project)
    assert tasks.execute_pull_run.apply(args=[run.pk]).get() == PullRun.Status.SUCCEEDED
    run.refresh_from_db()
    rows = list(DailyUsage.objects.order_by("date").values_list("date", "pulled_at", "audio"))
    assert len(rows) == 2

    assert tasks.execute_pull_run.apply(args=[run.pk]).get() == PullRun.Status.SUCCEEDED
    assert list(DailyUsage.objects.order_by("date").values_list("date", "pulled_at", "audio")) == rows
    second = PullRun.objects.get(pk=run.pk)
    assert (second.finished_at, second.attempts, second.rows_written) == (run.finished_at, run.attempts, 2)


@pytest.mark.django_db(transaction=True)
def test_two_deliveries_at_the_same_moment_do_the_work_once(acme, sandbox, monkeypatch):
    if connection.vendor != "postgresql":
        skip_or_fail("simultaneous deliveries need PostgreSQL (set DATABASE_URL=postgres://...)")
    executed = []
    real_execute_run = tasks.execute_run

    def counting_execute_run(run, **kwargs):
        executed.append(run.pk)
        return real_execute_run(run, **kwargs)

    monkeypatch.setattr(tasks, "execute_run", counting_execute_run)
    run = create_run(acme.organization, *recent_window(), trigger=PullRun.Trigger.SCHEDULE, project=acme.projects[0])
    barrier = threading.Barrier(2)
    outcomes = [None, None]

    def deliver(index):
        try:
            barrier.wait()
            outcomes[index] = tasks.execute_pull_run(run.pk)
        except Exception as error:  # noqa: BLE001  (the outcome is what the test inspects)
            outcomes[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert executed == [run.pk], outcomes
    assert all(isinstance(outcome, str) for outcome in outcomes), outcomes
    run.refresh_from_db()
    assert run.status == PullRun.Status.SUCCEEDED and run.error == "", run.error  # not overwritten by a loser
    assert DailyUsage.objects.count() == 2


@pytest.mark.django_db
def test_a_run_that_is_not_queued_is_left_alone(acme, monkeypatch):
    monkeypatch.setattr(tasks, "execute_run", lambda run, **kwargs: pytest.fail("executed"))
    run = create_run(acme.organization, *recent_window(), trigger=PullRun.Trigger.SCHEDULE)
    for status in (PullRun.Status.RUNNING, PullRun.Status.FAILED, PullRun.Status.PARTIAL):
        PullRun.objects.filter(pk=run.pk).update(status=status, started_at=timezone.now())
        assert tasks.execute_pull_run(run.pk) == status


# The schedule -------------------------------------------------------------------------------------


def test_beat_runs_pull_recent_every_hour_and_the_worker_knows_it(settings):
    console_app.loader.import_default_modules()  # what `celery -A console worker` and `beat` do on start
    entries = [entry for entry in settings.CELERY_BEAT_SCHEDULE.values() if entry["task"] == PULL_RECENT]
    assert len(entries) == 1
    schedule = entries[0]["schedule"]
    assert isinstance(schedule, crontab)
    assert schedule.hour == set(range(24)) and len(schedule.minute) == 1  # once an hour
    assert PULL_RECENT in console_app.tasks and tasks.pull_recent.name == PULL_RECENT
    assert "usage.tasks.execute_pull_run" in console_app.tasks
