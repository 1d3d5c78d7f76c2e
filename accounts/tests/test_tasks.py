"""The invitation-expiry job, through Celery for real: a worker thread consumes the message from a broker,
runs the task against the database and stores the result, on the embedded broker (kombu's filesystem
transport, what development uses) and on Redis (what production uses)."""

import uuid
from datetime import timedelta

import celery.contrib.testing.tasks  # noqa: F401  (registers celery.ping, which start_worker round-trips)
import pytest
import redis
from celery import Celery, _state
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from accounts import services, tasks
from accounts.models import Invitation
from conftest import TEST_REDIS_URL, skip_or_fail
from console.broker import AtomicFilesystemTransport
from console.celery import app as console_app

EXPIRE_TASK = "accounts.tasks.expire_invitations"


def make_invitations(acme) -> tuple[Invitation, Invitation]:
    """A pending invitation whose week has passed and a fresh one, sent through the real use case."""
    admin = acme.membership("admin")
    stale = services.invite(admin, "stale@example.com", acme.roles["engineer"])
    fresh = services.invite(admin, "fresh@example.com", acme.roles["finance"])
    Invitation.objects.filter(pk=stale.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    return stale, fresh


def celery_app_for(broker_url: str, result_backend: str, **conf) -> Celery:
    """An app configured like console.celery's (from Django settings) but with its own broker and queue.

    A fresh app, not the project's, so the test neither disturbs the shared app's connection pool and
    result backend nor sees messages another run left behind: the queue name is unique.
    """
    app = Celery("console-tests", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    options = {
        "broker_url": broker_url,
        "broker_transport": None,  # the URL's scheme picks the transport unless `conf` names one
        "result_backend": result_backend,
        "task_default_queue": f"tests-{uuid.uuid4().hex}",
        "task_always_eager": False,
        "result_expires": timedelta(minutes=10),
        "worker_hijack_root_logger": False,
    }
    app.conf.update({**options, **conf})
    return app


@pytest.fixture
def restore_current_celery_app():
    """start_worker makes its app the current and default one; put the project's app back afterwards."""
    current, default = _state.get_current_app(), _state.default_app
    yield
    current.set_current()
    _state.default_app = default


def run_expiry_through_worker(app: Celery, acme) -> None:
    stale, fresh = make_invitations(acme)
    with start_worker(app, pool="solo", perform_ping_check=True, shutdown_timeout=20):
        # start_worker made `app` current, so the shared task's .delay() sends through it.
        result = tasks.expire_invitations.delay()
        assert result.get(timeout=30) == 1
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.status == Invitation.Status.EXPIRED
    assert fresh.status == Invitation.Status.PENDING


@pytest.mark.django_db(transaction=True)
def test_worker_expires_invitations_over_the_embedded_broker(acme, tmp_path, restore_current_celery_app):
    broker = tmp_path / "broker"
    for folder in ("broker", "control", "results"):
        (tmp_path / folder).mkdir()
    app = celery_app_for(
        "filesystem://",
        f"file://{tmp_path / 'results'}",
        broker_transport=AtomicFilesystemTransport,  # see its docstring; the reading side is kombu's own
        broker_transport_options={
            "data_folder_in": str(broker),
            "data_folder_out": str(broker),
            "control_folder": str(tmp_path / "control"),
            "store_processed": False,
            "polling_interval": 0.1,
        },
    )
    run_expiry_through_worker(app, acme)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
# Celery's Redis result backend still calls redis-py's deprecated setex(); not ours to fix.
@pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning")
def test_worker_expires_invitations_over_redis(acme, restore_current_celery_app):
    try:
        redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=2, socket_timeout=2).ping()
    except redis.RedisError:
        skip_or_fail(f"Redis is not running at {TEST_REDIS_URL}")
    app = celery_app_for(TEST_REDIS_URL, TEST_REDIS_URL)
    run_expiry_through_worker(app, acme)


@pytest.mark.django_db
def test_expire_invitations_marks_only_overdue_pending_ones(acme):
    stale, fresh = make_invitations(acme)
    revoked = services.invite(acme.membership("admin"), "revoked@example.com", acme.roles["engineer"])
    services.revoke_invitation(acme.membership("admin"), revoked)
    Invitation.objects.filter(pk=revoked.pk).update(expires_at=timezone.now() - timedelta(days=1))

    assert services.expire_invitations() == 1
    assert services.expire_invitations() == 0  # idempotent: a second run changes nothing

    statuses = dict(Invitation.objects.values_list("email", "status"))
    assert statuses == {
        "stale@example.com": Invitation.Status.EXPIRED,
        "fresh@example.com": Invitation.Status.PENDING,
        "revoked@example.com": Invitation.Status.REVOKED,
    }
    stale.refresh_from_db()
    assert not stale.is_usable


def test_beat_schedule_names_registered_tasks(settings):
    # What `celery -A console worker` and `beat` do on start: autodiscover every app's tasks module.
    console_app.loader.import_default_modules()
    assert settings.CELERY_BEAT_SCHEDULE, "beat has nothing to run"
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["task"] in console_app.tasks, f"beat entry {name!r} names unregistered task {entry['task']}"
    assert EXPIRE_TASK in {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert tasks.expire_invitations.name == EXPIRE_TASK
