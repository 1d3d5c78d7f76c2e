"""The usage services called directly, as the APIs and commands call them: no request, the member acting is
the actor of every entry, and each refusal is a RuleViolation."""

from datetime import date
from urllib.parse import urlsplit

import pytest
from django.test import RequestFactory

from accounts.models import AuditEntry
from console.refusals import RuleViolation
from usage import services, tasks
from usage.models import ProjectMapping, PullRun, Upstream
from usage.tests.test_client import Reply

SECRET = "s3cret-value-that-must-never-show-7f2a"
JANUARY = (date(2025, 1, 1), date(2025, 1, 31))


@pytest.fixture
def admin(acme):
    return acme.membership("admin")


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """Records execute_pull_run.delay calls instead of sending them to a broker."""
    calls = []
    monkeypatch.setattr(tasks.execute_pull_run, "delay", lambda run_id: calls.append(run_id))
    return calls


def entry(action: str) -> AuditEntry:
    return AuditEntry.objects.get(action=action)


# The upstream -----------------------------------------------------------------------------------


def test_save_upstream_saves_forgets_the_last_check_and_names_the_member(acme, admin):
    upstream = Upstream.objects.get(organization=acme.organization)
    Upstream.objects.filter(pk=upstream.pk).update(last_check_result="Connected: 2 projects upstream")

    changed = services.save_upstream(admin, "https://api.example.test", "cid-2", SECRET)

    assert changed == ["base_url", "customer_id", "customer_secret"]
    upstream.refresh_from_db()
    assert (upstream.base_url, upstream.customer_id, upstream.customer_secret) == (
        "https://api.example.test",
        "cid-2",
        SECRET,
    )
    assert upstream.last_checked_at is None and upstream.last_check_result == ""
    saved = entry("usage.upstream_changed")
    assert saved.actor == acme.users["admin"] and saved.actor_email == acme.users["admin"].email
    assert saved.organization == acme.organization and saved.ip_address is None
    assert saved.details["changed"] == changed and SECRET not in str(saved.details)


def test_save_upstream_with_nothing_changed_writes_nothing(acme, admin):
    upstream = Upstream.objects.get(organization=acme.organization)
    assert services.save_upstream(admin, upstream.base_url, upstream.customer_id, "") == []
    assert not AuditEntry.objects.filter(action="usage.upstream_changed").exists()


def test_save_upstream_creates_one_for_an_organization_without(acme, admin):
    Upstream.objects.filter(organization=acme.organization).delete()
    assert services.save_upstream(admin, "", "mine", SECRET) == ["base_url", "customer_id", "customer_secret"]
    upstream = Upstream.objects.get(organization=acme.organization)
    assert upstream.is_sandbox and upstream.customer_id == "mine" and upstream.customer_secret == SECRET


def test_a_stored_secret_is_not_sent_to_a_new_base_url(acme, admin):
    Upstream.objects.filter(organization=acme.organization).update(base_url="https://api.example.test")
    with pytest.raises(RuleViolation, match="enter the Customer Secret again") as refused:
        services.save_upstream(admin, "https://elsewhere.example.test", "cid", "")
    assert refused.value.field == "customer_secret"
    assert Upstream.objects.get(organization=acme.organization).base_url == "https://api.example.test"
    assert not AuditEntry.objects.filter(action="usage.upstream_changed").exists()


def test_the_actor_comes_from_the_member_not_the_request(acme, admin):
    request = RequestFactory().post("/", REMOTE_ADDR="203.0.113.7")
    request.user = acme.users["engineer"]
    services.save_upstream(admin, "https://api.example.test", "cid", SECRET, request=request)
    saved = entry("usage.upstream_changed")
    assert saved.actor == acme.users["admin"] and saved.ip_address == "203.0.113.7"


# Connection test --------------------------------------------------------------------------------


def test_check_connection_matches_by_app_id_and_stores_the_result(acme, admin, upstream, settings):
    first, second = acme.projects
    ProjectMapping.objects.create(project=second, upstream_project_id="by-hand", matched_automatically=False)
    listing = [
        {"id": "up-1", "vendor_key": first.app_id, "name": "One"},
        {"id": "up-2", "vendor_key": second.app_id, "name": "Two"},
    ]
    fake = upstream(lambda seen: Reply(body={"projects": listing}))
    settings.USAGE_UPSTREAM_ALLOWED_HOSTS = [urlsplit(fake.url).netloc]
    Upstream.objects.filter(organization=acme.organization).update(base_url=fake.url)

    check = services.check_connection(admin)

    assert check == services.ConnectionCheck(ok=True, listed=2, matched=1)
    assert ProjectMapping.objects.get(project=first).upstream_project_id == "up-1"
    assert ProjectMapping.objects.get(project=second).upstream_project_id == "by-hand"
    stored = Upstream.objects.get(organization=acme.organization)
    assert stored.last_checked_at is not None
    assert stored.last_check_result == "Connected: 2 projects upstream; 1 matched by App ID"


def test_a_failed_connection_is_stored_with_its_reason(acme, admin, settings):
    settings.USAGE_HTTP_RETRIES = 0
    settings.USAGE_UPSTREAM_ALLOWED_HOSTS = ["127.0.0.1:9"]  # nothing listens on the discard port
    Upstream.objects.filter(organization=acme.organization).update(base_url="http://127.0.0.1:9")

    check = services.check_connection(admin)

    assert not check.ok and "connection refused" in check.reason
    stored = Upstream.objects.get(organization=acme.organization)
    assert stored.last_check_result == f"Failed: {check.reason}" and stored.last_checked_at is not None
    assert not ProjectMapping.objects.exists()


def test_check_connection_without_an_upstream_is_refused(acme, admin):
    Upstream.objects.filter(organization=acme.organization).delete()
    with pytest.raises(RuleViolation, match="Save the upstream settings first"):
        services.check_connection(admin)


# Project mappings -------------------------------------------------------------------------------


def test_set_mapping_by_hand_and_audited_with_the_member(acme, admin):
    project = acme.projects[0]
    ProjectMapping.objects.create(project=project, upstream_project_id="auto-id", matched_automatically=True)

    assert services.set_mapping(admin, project, "My_Project-42")

    mapping = ProjectMapping.objects.get(project=project)
    assert mapping.upstream_project_id == "My_Project-42" and not mapping.matched_automatically
    saved = entry("usage.mapping_changed")
    assert saved.actor == acme.users["admin"] and saved.project_id == project.pk
    assert saved.details == {"project_id": project.project_id, "old": "auto-id", "new": "My_Project-42"}

    assert not services.set_mapping(admin, project, "My_Project-42")  # the same again: nothing to do
    assert AuditEntry.objects.filter(action="usage.mapping_changed").count() == 1


def test_remove_mapping(acme, admin):
    project = acme.projects[0]
    assert not services.remove_mapping(admin, project)  # none yet
    assert not AuditEntry.objects.filter(action="usage.mapping_changed").exists()

    ProjectMapping.objects.create(project=project, upstream_project_id="up-1", matched_automatically=False)
    assert services.remove_mapping(admin, project)
    assert not ProjectMapping.objects.filter(project=project).exists()
    saved = entry("usage.mapping_changed")
    assert saved.actor == acme.users["admin"]
    assert saved.details == {"project_id": project.project_id, "old": "up-1", "new": None}


# Backfills --------------------------------------------------------------------------------------


def test_start_backfill_creates_the_run_queues_it_after_commit_and_audits(
    acme, admin, queued, django_capture_on_commit_callbacks
):
    project = acme.projects[0]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        run = services.start_backfill(admin, project, *JANUARY)
        assert queued == []  # not before the commit
    assert len(callbacks) == 1 and queued == [run.pk]
    run.refresh_from_db()
    assert (run.project, run.date_from, run.date_to) == (project, *JANUARY)
    assert run.trigger == PullRun.Trigger.CONSOLE and run.status == PullRun.Status.QUEUED
    assert run.started_by == acme.users["admin"]
    saved = entry("usage.backfill_started")
    assert saved.actor == acme.users["admin"] and saved.target == project.name
    assert saved.details == {"run": run.pk, "date_from": "2025-01-01", "date_to": "2025-01-31"}


def test_the_same_backfill_twice_is_refused(acme, admin, queued):
    services.start_backfill(admin, None, *JANUARY)
    with pytest.raises(RuleViolation, match="already queued or running"):
        services.start_backfill(admin, None, *JANUARY)
    assert PullRun.objects.count() == 1
    assert AuditEntry.objects.filter(action="usage.backfill_started").count() == 1


def test_a_backfill_without_an_upstream_is_refused(acme, admin, queued):
    Upstream.objects.filter(organization=acme.organization).delete()
    with pytest.raises(RuleViolation, match="No usage upstream is configured"):
        services.start_backfill(admin, None, *JANUARY)
    assert not PullRun.objects.exists()


def test_a_backfill_the_queue_refuses_fails_its_run(acme, admin, monkeypatch, django_capture_on_commit_callbacks):
    def broken(run_id):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.execute_pull_run, "delay", broken)
    with django_capture_on_commit_callbacks(execute=True):
        run = services.start_backfill(admin, None, *JANUARY)
    run.refresh_from_db()
    assert run.status == PullRun.Status.FAILED and "broker down" in run.error and run.finished_at is not None
