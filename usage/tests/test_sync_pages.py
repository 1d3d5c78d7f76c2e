"""The usage settings, project mappings and Data sync pages: who may do what, what they show and store."""

import json
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEntry, Membership, Role, User
from conftest import PASSWORD, sign_in
from usage import tasks
from usage.models import ProjectMapping, PullRun, Upstream
from usage.pulling import create_run

VIEWERS = ("finance", "product_operation", "cs_maintenance", "engineer")
SECRET = "s3cret-value-that-must-never-show-7f2a"


def today() -> date:
    return timezone.now().date()


def texts(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def admin_client(acme, client_for):
    return client_for(acme.users["admin"])


@pytest.fixture
def queued(monkeypatch):
    """Records execute_pull_run.delay calls instead of sending them to a broker."""
    calls = []
    monkeypatch.setattr(tasks.execute_pull_run, "delay", lambda run_id: calls.append(run_id))
    return calls


def backfill_data(project="", day_from=None, day_to=None):
    day_to = day_to or today()
    day_from = day_from or day_to - timedelta(days=10)
    return {"project": project, "date_from": day_from.isoformat(), "date_to": day_to.isoformat()}


# Access -----------------------------------------------------------------------------------------


def test_admin_opens_every_page(acme, admin_client):
    run = create_run(acme.organization, today(), today(), trigger=PullRun.Trigger.SCHEDULE)
    for name, args in [
        ("usage:settings", []),
        ("usage:mappings", []),
        ("usage:sync", []),
        ("usage:run_status", [run.pk]),
    ]:
        assert admin_client.get(reverse(name, args=args)).status_code == 200, name
    page = admin_client.get(reverse("usage:sync")).content.decode()
    assert 'href="/usage/settings/"' in page and "Start backfill" in page


@pytest.mark.parametrize("role", VIEWERS)
def test_usage_viewers_follow_pulls_but_change_nothing(role, acme, client_for, queued):
    run = create_run(acme.organization, today(), today(), trigger=PullRun.Trigger.SCHEDULE)
    upstream = Upstream.objects.get(organization=acme.organization)
    client = client_for(acme.users[role])

    page = client.get(reverse("usage:sync"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Pull runs" in html and "Start backfill" not in html
    assert 'href="/usage/settings/"' not in html  # no Settings tab
    assert client.get(reverse("usage:run_status", args=[run.pk])).status_code == 200

    assert client.get(reverse("usage:settings")).status_code == 403
    assert client.get(reverse("usage:mappings")).status_code == 403
    assert client.post(reverse("usage:sync"), backfill_data()).status_code == 403
    assert client.post(reverse("usage:test_connection")).status_code == 403
    data = {"base_url": "https://evil.example", "customer_id": "x", "customer_secret": "y"}
    assert client.post(reverse("usage:settings"), data).status_code == 403
    project = acme.projects[0].project_id
    data = {"project": project, "upstream_project_id": "abc", "action": "save"}
    assert client.post(reverse("usage:mappings"), data).status_code == 403

    assert PullRun.objects.count() == 1 and queued == []
    assert not ProjectMapping.objects.exists()
    upstream.refresh_from_db()
    assert upstream.base_url == "" and upstream.last_checked_at is None


def test_anonymous_visitors_are_sent_to_sign_in(acme, client):
    for name in ("usage:settings", "usage:mappings", "usage:sync"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_test_connection_is_post_only(admin_client):
    assert admin_client.get(reverse("usage:test_connection")).status_code == 405


# Settings ---------------------------------------------------------------------------------------


def test_saving_with_an_empty_secret_keeps_the_stored_one(acme, admin_client):
    upstream = Upstream.objects.get(organization=acme.organization)
    upstream.base_url, upstream.customer_id, upstream.customer_secret = "https://api.example.test", "cid-1", SECRET
    upstream.save()

    response = admin_client.post(
        reverse("usage:settings"),
        {"base_url": "https://api.example.test", "customer_id": "cid-2", "customer_secret": ""},
    )
    assert response.status_code == 302
    upstream.refresh_from_db()
    assert upstream.customer_id == "cid-2" and upstream.customer_secret == SECRET

    entry = AuditEntry.objects.get(action="usage.upstream_changed")
    assert entry.organization == acme.organization and entry.actor == acme.users["admin"]
    assert entry.details["changed"] == ["customer_id"]
    assert entry.details["customer_id"] == "cid-2"
    assert SECRET not in json.dumps(entry.details) and SECRET not in entry.target


def test_a_new_secret_replaces_the_old_one_and_is_logged_by_name_only(acme, admin_client):
    response = admin_client.post(
        reverse("usage:settings"),
        {"base_url": "https://api.example.test/", "customer_id": "cid", "customer_secret": SECRET},
    )
    assert response.status_code == 302
    upstream = Upstream.objects.get(organization=acme.organization)
    assert upstream.base_url == "https://api.example.test"  # trailing slash dropped
    assert upstream.customer_secret == SECRET
    entry = AuditEntry.objects.get(action="usage.upstream_changed")
    assert set(entry.details["changed"]) == {"base_url", "customer_id", "customer_secret"}
    assert SECRET not in json.dumps(entry.details)


def test_a_changed_base_url_needs_the_secret_again(acme, admin_client):
    upstream = Upstream.objects.get(organization=acme.organization)
    upstream.base_url, upstream.customer_secret = "https://api.example.test", SECRET
    upstream.save()
    response = admin_client.post(
        reverse("usage:settings"),
        {"base_url": "https://elsewhere.example.test", "customer_id": upstream.customer_id, "customer_secret": ""},
    )
    assert response.status_code == 200
    assert "enter the Customer Secret again" in response.content.decode()
    upstream.refresh_from_db()
    assert upstream.base_url == "https://api.example.test"
    assert not AuditEntry.objects.filter(action="usage.upstream_changed").exists()


@pytest.mark.parametrize(
    "data, field, error",
    [
        ({"base_url": "ftp://files.example.test", "customer_id": "c", "customer_secret": "s"}, "base_url", "http"),
        ({"base_url": "not a url", "customer_id": "c", "customer_secret": "s"}, "base_url", "valid URL"),
        ({"base_url": "https://a.example.test", "customer_id": "", "customer_secret": "s"}, "customer_id", "Enter"),
        ({"base_url": "https://a.example.test", "customer_id": "a:b", "customer_secret": "s"}, "customer_id", ":"),
    ],
)
def test_settings_validation(data, field, error, acme, admin_client):
    response = admin_client.post(reverse("usage:settings"), data)
    assert response.status_code == 200
    assert error in " ".join(response.context["form"].errors[field])


def test_an_organization_without_upstream_gets_one_on_save(acme, admin_client):
    Upstream.objects.filter(organization=acme.organization).delete()
    page = admin_client.get(reverse("usage:settings")).content.decode()
    assert "No upstream is configured" in page
    response = admin_client.post(
        reverse("usage:settings"), {"base_url": "", "customer_id": "mine", "customer_secret": ""}
    )
    assert response.context["form"].errors["customer_secret"] == ["Enter the Customer Secret."]
    data = {"base_url": "", "customer_id": "mine", "customer_secret": SECRET}
    assert admin_client.post(reverse("usage:settings"), data).status_code == 302
    upstream = Upstream.objects.get(organization=acme.organization)
    assert upstream.is_sandbox and upstream.customer_id == "mine" and upstream.customer_secret == SECRET


def test_a_sandbox_customer_id_is_not_shared_between_organizations(acme, globex, admin_client):
    theirs = Upstream.objects.get(organization=globex.organization).customer_id
    response = admin_client.post(
        reverse("usage:settings"), {"base_url": "", "customer_id": theirs, "customer_secret": "x"}
    )
    assert response.status_code == 200 and "customer_id" in response.context["form"].errors


def test_the_secret_never_appears_in_any_page(acme, admin_client):
    upstream = Upstream.objects.get(organization=acme.organization)
    upstream.customer_secret = SECRET
    upstream.save()
    admin_client.post(reverse("usage:settings"), {"base_url": "", "customer_id": "cid-x", "customer_secret": ""})
    # An invalid form typed with a new secret does not echo it back either.
    invalid = admin_client.post(
        reverse("usage:settings"), {"base_url": "bad", "customer_id": "cid-x", "customer_secret": SECRET + "2"}
    )
    pages = [
        invalid,
        admin_client.get(reverse("usage:settings")),
        admin_client.get(reverse("usage:mappings")),
        admin_client.get(reverse("usage:sync")),
        admin_client.get(reverse("audit_log")),
        admin_client.get(reverse("audit_log_csv")),
    ]
    for response in pages:
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert SECRET.encode() not in body, response.request["PATH_INFO"]
    assert "•••• set" in pages[1].content.decode()


# Test connection --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_test_connection_against_the_sandbox_over_http(acme, live_server, settings, client_for):
    settings.USAGE_UPSTREAM_URL = live_server.url + "/sandbox"
    first, second = acme.projects
    ProjectMapping.objects.create(project=second, upstream_project_id="kept-by-hand", matched_automatically=False)
    client = client_for(acme.users["admin"])

    response = client.post(reverse("usage:test_connection"))
    assert response.status_code == 302 and response["Location"] == reverse("usage:settings")
    [message] = texts(response)
    assert message.startswith("Connected: 2 projects upstream.")
    assert "1 of your projects matched by App ID" in message and "1 set by hand kept" in message

    assert ProjectMapping.objects.get(project=first).upstream_project_id == first.project_id
    assert ProjectMapping.objects.get(project=first).matched_automatically
    assert ProjectMapping.objects.get(project=second).upstream_project_id == "kept-by-hand"
    upstream = Upstream.objects.get(organization=acme.organization)
    assert upstream.last_checked_at is not None and upstream.last_check_result.startswith("Connected: 2 projects")
    page = client.get(reverse("usage:settings")).content.decode()
    assert "Connected: 2 projects" in page and "OK" in page

    # From the mappings page, the same button returns there.
    response = client.post(reverse("usage:test_connection"), {"next": "mappings"})
    assert response["Location"] == reverse("usage:mappings")


def test_a_closed_port_is_reported_not_a_crash(acme, admin_client, settings):
    settings.USAGE_HTTP_RETRIES = 0
    settings.USAGE_UPSTREAM_ALLOWED_HOSTS = ["127.0.0.1:9"]  # an upstream on this machine, as in development
    upstream = Upstream.objects.get(organization=acme.organization)
    upstream.base_url = "http://127.0.0.1:9"
    upstream.save()
    response = admin_client.post(reverse("usage:test_connection"))
    assert response.status_code == 302
    [message] = texts(response)
    assert message.startswith("Connection failed.") and "connection refused" in message
    upstream.refresh_from_db()
    assert upstream.last_check_result.startswith("Failed:") and upstream.last_checked_at is not None
    assert not ProjectMapping.objects.exists()
    page = admin_client.get(reverse("usage:settings")).content.decode()
    assert "Failed" in page


@pytest.mark.django_db(transaction=True)
def test_wrong_credentials_are_reported(acme, live_server, settings, client_for):
    settings.USAGE_HTTP_RETRIES = 0
    settings.USAGE_UPSTREAM_ALLOWED_HOSTS = [urlsplit(live_server.url).netloc]
    # The sandbox only knows upstreams without a base URL: these credentials, sent to it by URL, are unknown.
    Upstream.objects.filter(organization=acme.organization).update(base_url=live_server.url + "/sandbox")
    admin_client = client_for(acme.users["admin"])
    response = admin_client.post(reverse("usage:test_connection"))
    [message] = texts(response)
    assert "401" in message and "Check the Customer ID and Customer Secret" in message


def test_test_connection_without_an_upstream(acme, admin_client):
    Upstream.objects.filter(organization=acme.organization).delete()
    response = admin_client.post(reverse("usage:test_connection"))
    assert response.status_code == 302 and texts(response) == ["Save the upstream settings first."]


# Mappings ---------------------------------------------------------------------------------------


def test_set_and_remove_a_mapping_by_hand(acme, admin_client):
    project = acme.projects[0]
    ProjectMapping.objects.create(project=project, upstream_project_id="auto-id", matched_automatically=True)
    edit = admin_client.get(reverse("usage:mappings"), {"project": project.project_id})
    assert edit.context["form"].initial == {"project": project.project_id, "upstream_project_id": "auto-id"}

    data = {"project": project.project_id, "upstream_project_id": " My_Project-42 ", "action": "save"}
    response = admin_client.post(reverse("usage:mappings"), data)
    assert response.status_code == 302
    mapping = ProjectMapping.objects.get(project=project)
    assert mapping.upstream_project_id == "My_Project-42" and not mapping.matched_automatically
    entry = AuditEntry.objects.get(action="usage.mapping_changed")
    assert entry.details == {"project_id": project.project_id, "old": "auto-id", "new": "My_Project-42"}

    page = admin_client.get(reverse("usage:mappings")).content.decode()
    assert "My_Project-42" in page and "By hand" in page and "Not mapped" in page

    data = {"project": project.project_id, "upstream_project_id": "", "action": "remove"}
    assert admin_client.post(reverse("usage:mappings"), data).status_code == 302
    assert not ProjectMapping.objects.filter(project=project).exists()


@pytest.mark.parametrize(
    "value, error",
    [
        ("", "Enter the upstream project ID."),
        ("has space", "Use 1 to 64 characters"),
        ("semi;colon", "Use 1 to 64 characters"),
        ("x" * 65, "at most 64 characters"),
    ],
)
def test_mapping_validation(value, error, acme, admin_client):
    data = {"project": acme.projects[0].project_id, "upstream_project_id": value, "action": "save"}
    response = admin_client.post(reverse("usage:mappings"), data)
    assert response.status_code == 200
    assert error in " ".join(response.context["form"].errors["upstream_project_id"])
    assert not ProjectMapping.objects.exists()


def test_sixty_four_characters_are_fine(acme, admin_client):
    data = {"project": acme.projects[0].project_id, "upstream_project_id": "a" * 64, "action": "save"}
    assert admin_client.post(reverse("usage:mappings"), data).status_code == 302


def test_two_projects_cannot_share_an_upstream_id(acme, admin_client):
    first, second = acme.projects
    ProjectMapping.objects.create(project=first, upstream_project_id="shared")
    data = {"project": second.project_id, "upstream_project_id": "shared", "action": "save"}
    response = admin_client.post(reverse("usage:mappings"), data)
    assert response.status_code == 200
    assert first.name in response.context["form"].errors["upstream_project_id"][0]
    assert not ProjectMapping.objects.filter(project=second).exists()


def test_another_organizations_project_cannot_be_mapped(acme, globex, admin_client):
    theirs = globex.projects[0]
    data = {"project": theirs.project_id, "upstream_project_id": "abc", "action": "save"}
    response = admin_client.post(reverse("usage:mappings"), data)
    assert response.status_code == 200 and "project" in response.context["form"].errors
    assert not ProjectMapping.objects.exists()
    assert admin_client.get(reverse("usage:mappings"), {"project": theirs.project_id}).status_code == 404


# Backfills --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "days, field, error",
    [
        ((-5, 1), "date_to", "cannot be after today"),
        ((-3, -5), "date_from", "must not be after the end date"),
        ((-731, 0), "date_from", "at most 2 years"),
    ],
)
def test_backfill_validation(days, field, error, acme, admin_client, queued):
    day_from, day_to = (today() + timedelta(days=n) for n in days)
    response = admin_client.post(reverse("usage:sync"), backfill_data("", day_from, day_to))
    assert response.status_code == 200
    assert error in " ".join(response.context["form"].errors[field])
    assert not PullRun.objects.exists() and queued == []


def test_backfill_needs_dates_and_a_project_of_ones_own(acme, globex, admin_client, queued):
    response = admin_client.post(reverse("usage:sync"), {"project": "", "date_from": "", "date_to": "2024-13-01"})
    assert set(response.context["form"].errors) == {"date_from", "date_to"}
    response = admin_client.post(reverse("usage:sync"), backfill_data(globex.projects[0].project_id))
    assert "project" in response.context["form"].errors
    acme.projects[1].enabled = False
    acme.projects[1].save()
    response = admin_client.post(reverse("usage:sync"), backfill_data(acme.projects[1].project_id))
    assert "project" in response.context["form"].errors  # a disabled project is not pulled
    assert not PullRun.objects.exists() and queued == []


def test_two_years_exactly_are_allowed(acme, admin_client, queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        data = backfill_data("", today() - timedelta(days=730), today())
        assert admin_client.post(reverse("usage:sync"), data).status_code == 302
    assert PullRun.objects.count() == 1


def test_a_valid_backfill_queues_a_run(acme, admin_client, queued, django_capture_on_commit_callbacks):
    project = acme.projects[0]
    day_from, day_to = date(2025, 1, 1), date(2025, 3, 15)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client.post(reverse("usage:sync"), backfill_data(project.project_id, day_from, day_to))
    assert response.status_code == 302 and response["Location"] == reverse("usage:sync")
    assert len(callbacks) == 1
    run = PullRun.objects.get()
    assert (run.project, run.date_from, run.date_to) == (project, day_from, day_to)
    assert run.trigger == PullRun.Trigger.CONSOLE and run.status == PullRun.Status.QUEUED
    assert run.started_by == acme.users["admin"]
    assert queued == [run.pk]
    assert texts(response) == [
        f"Backfill queued: {project.name}, 2025-01-01 to 2025-03-15 (3 windows of up to 31 days per project). "
        "Its progress is shown below."
    ]
    entry = AuditEntry.objects.get(action="usage.backfill_started")
    assert entry.details == {"run": run.pk, "date_from": "2025-01-01", "date_to": "2025-03-15"}

    # The same backfill again while it is queued: refused, nothing queued twice.
    with django_capture_on_commit_callbacks(execute=True):
        again = admin_client.post(reverse("usage:sync"), backfill_data(project.project_id, day_from, day_to))
    assert again.status_code == 200 and "already queued or running" in again.content.decode()
    assert PullRun.objects.count() == 1 and queued == [run.pk]


def test_a_backfill_of_all_projects(acme, admin_client, queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(reverse("usage:sync"), backfill_data("")).status_code == 302
    run = PullRun.objects.get()
    assert run.project is None and queued == [run.pk]


def test_nothing_is_queued_before_the_commit(acme, admin_client, queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        admin_client.post(reverse("usage:sync"), backfill_data(""))
        assert queued == []
    assert len(callbacks) == 1


def test_a_broker_failure_fails_the_run_visibly(acme, admin_client, monkeypatch, django_capture_on_commit_callbacks):
    def broken(run_id):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.execute_pull_run, "delay", broken)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("usage:sync"), backfill_data(""))
    assert response.status_code == 302
    run = PullRun.objects.get()
    assert run.status == PullRun.Status.FAILED and "broker down" in run.error


def test_backfill_without_an_upstream_is_refused(acme, admin_client, queued):
    Upstream.objects.filter(organization=acme.organization).delete()
    response = admin_client.post(reverse("usage:sync"), backfill_data(""))
    assert response.status_code == 200 and "No usage upstream is configured" in response.content.decode()
    assert not PullRun.objects.exists()


# Run status and the list ------------------------------------------------------------------------


def test_run_status_json(acme, globex, admin_client):
    run = create_run(acme.organization, date(2025, 1, 1), date(2025, 4, 30), trigger=PullRun.Trigger.CONSOLE)
    PullRun.objects.filter(pk=run.pk).update(
        status=PullRun.Status.RUNNING, windows_total=8, windows_done=3, windows_failed=1, rows_written=93
    )
    response = admin_client.get(reverse("usage:run_status", args=[run.pk]))
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert response.json() == {
        "status": "running",
        "status_label": "Running",
        "progress_percent": 50,
        "windows_done": 3,
        "windows_failed": 1,
        "windows_total": 8,
        "rows_written": 93,
        "error": "",
        "finished": False,
    }
    PullRun.objects.filter(pk=run.pk).update(status=PullRun.Status.PARTIAL, error="A: boom\nB: bang")
    data = admin_client.get(reverse("usage:run_status", args=[run.pk])).json()
    assert data["finished"] and data["status_label"] == "Partly failed" and data["error"] == "A: boom\nB: bang"

    theirs = create_run(globex.organization, date(2025, 1, 1), date(2025, 1, 2), trigger=PullRun.Trigger.CONSOLE)
    assert admin_client.get(reverse("usage:run_status", args=[theirs.pk])).status_code == 404
    assert admin_client.get(reverse("usage:run_status", args=[999999])).status_code == 404


def test_the_list_shows_runs_with_progress(acme, client_for):
    admin = acme.users["admin"]
    active = create_run(acme.organization, date(2025, 1, 1), date(2025, 4, 30), trigger="console", user=admin)
    PullRun.objects.filter(pk=active.pk).update(status="running", windows_total=4, windows_done=1, rows_written=1234)
    done = create_run(
        acme.organization, date(2025, 5, 1), date(2025, 5, 2), trigger="schedule", project=acme.projects[0]
    )
    now = timezone.now()
    PullRun.objects.filter(pk=done.pk).update(
        status="failed",
        windows_total=1,
        windows_failed=1,
        attempts=5,
        error="Acme project 1 2025-05-01..2025-05-02: The upstream answered 500 Internal error\nmore",
        started_at=now - timedelta(seconds=75),
        finished_at=now,
    )
    client = client_for(acme.users["finance"])
    html = client.get(reverse("usage:sync")).content.decode()
    assert f'data-run-status="{reverse("usage:run_status", args=[active.pk])}"' in html
    assert f'data-run-status="{reverse("usage:run_status", args=[done.pk])}"' not in html
    assert 'max="100" value="25"' in html and "25%" in html and "1 of 4 windows" in html and "1,234" in html
    assert admin.get_full_name() in html and "Scheduler" in html
    assert '>2025-01-01 →</span> <span class="nowrap">2025-04-30<' in html and "All enabled projects" in html
    assert "status-run-failed" in html and "The upstream answered 500" in html and "1 min 15 s" in html
    assert "1 in progress" in html

    failed_only = client.get(reverse("usage:sync"), {"status": "failed"}).context["changelist"]
    assert [run.pk for run in failed_only.page.object_list] == [done.pk]
    by_trigger = client.get(reverse("usage:sync"), {"trigger": "console"}).context["changelist"]
    assert [run.pk for run in by_trigger.page.object_list] == [active.pk]
    old = client.get(reverse("usage:sync"), {"to": "2000-01-01"})
    assert "Nothing matches these filters" in old.content.decode()


def test_a_member_with_selected_projects_sees_only_their_runs(acme, client_for):
    mine, other = acme.projects
    role = Role.objects.create(
        organization=acme.organization, name="Scoped usage", levels={"usage": "view"}, all_projects=False
    )
    role.projects.set([mine])
    user = User.objects.create_user("scoped@acme.test", PASSWORD, name="Scoped")
    Membership.objects.create(user=user, organization=acme.organization, role=role)
    seen = create_run(acme.organization, date(2025, 1, 1), date(2025, 1, 2), trigger="schedule", project=mine)
    hidden = create_run(acme.organization, date(2025, 1, 1), date(2025, 1, 2), trigger="schedule", project=other)
    whole = create_run(acme.organization, date(2025, 1, 1), date(2025, 1, 2), trigger="console")
    client = client_for(user)
    listed = client.get(reverse("usage:sync")).context["changelist"]
    assert [run.pk for run in listed.page.object_list] == [seen.pk]
    assert client.get(reverse("usage:run_status", args=[seen.pk])).status_code == 200
    for run in (hidden, whole):
        assert client.get(reverse("usage:run_status", args=[run.pk])).status_code == 404


def test_a_scoped_usage_manager_backfills_their_projects_only(acme, client_for, queued):
    mine, other = acme.projects
    role = Role.objects.create(
        organization=acme.organization, name="Scoped manager", levels={"usage": "manage"}, all_projects=False
    )
    role.projects.set([mine])
    user = User.objects.create_user("scoped-manager@acme.test", PASSWORD, name="Scoped Manager")
    Membership.objects.create(user=user, organization=acme.organization, role=role)
    client = client_for(user)
    form = client.get(reverse("usage:sync")).context["form"]
    assert [value for value, _ in form.fields["project"].choices] == ["", mine.project_id]
    response = client.post(reverse("usage:sync"), backfill_data(""))
    assert "Choose a project" in response.context["form"].errors["project"][0]
    response = client.post(reverse("usage:sync"), backfill_data(other.project_id))
    assert "project" in response.context["form"].errors
    assert not PullRun.objects.exists()


# In a browser -----------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_pages_in_a_browser_and_progress_refreshed_in_place(acme, live_server, settings, new_page, shoot, queued):  # noqa: F811
    """Settings, test connection, mappings and Data sync as the Admin sees them (screenshots in
    var/screenshots/usage-*.png); a running backfill's row follows the run without a page reload."""
    from playwright.sync_api import expect

    settings.USAGE_UPSTREAM_URL = live_server.url + "/sandbox"
    base = live_server.url
    admin = new_page()
    sign_in(admin, base, acme.users["admin"].email)

    admin.goto(f"{base}/usage/settings/")
    tabs = admin.get_by_role("navigation", name="Usage sections").get_by_role("link")
    expect(tabs).to_have_text(["Usage", "Data sync", "Settings"])
    expect(admin.get_by_text("•••• set").first).to_be_visible()
    admin.get_by_role("button", name="Test connection").click()
    expect(admin.get_by_role("status").filter(has_text="Connected: 2 projects upstream.")).to_be_visible()
    shoot(admin, "usage-30-settings-connected")

    admin.get_by_role("link", name="Edit mappings").click()
    expect(admin.get_by_role("heading", name="Project mappings")).to_be_visible()
    admin.get_by_label("Upstream project ID").fill("not valid!")
    admin.get_by_role("button", name="Save mapping").click()
    expect(admin.get_by_text("Use 1 to 64 characters")).to_be_visible()
    shoot(admin, "usage-31-mappings-error")

    tabs.get_by_text("Data sync").click()
    admin.get_by_label("Last day").fill((today() + timedelta(days=3)).isoformat())
    admin.get_by_role("button", name="Start backfill").click()
    expect(admin.get_by_text("The end date cannot be after today")).to_be_visible()
    shoot(admin, "usage-32-backfill-error")

    admin.get_by_label("Last day").fill(today().isoformat())
    admin.get_by_role("button", name="Start backfill").click()
    expect(admin.get_by_role("status").filter(has_text="Backfill queued")).to_be_visible()
    run = PullRun.objects.get(trigger=PullRun.Trigger.CONSOLE)
    assert queued == [run.pk]
    PullRun.objects.filter(pk=run.pk).update(status="running", windows_total=4, windows_done=1, rows_written=31)
    earlier = create_run(acme.organization, today(), today(), trigger="schedule", project=acme.projects[1])
    PullRun.objects.filter(pk=earlier.pk).update(
        created_at=timezone.now() - timedelta(hours=1),
        status="failed",
        windows_total=1,
        windows_failed=1,
        attempts=5,
        error=f"{acme.projects[1].name} {today()}..{today()}: The upstream answered 503 Service unavailable",
        started_at=timezone.now() - timedelta(hours=1, seconds=-12),
        finished_at=timezone.now() - timedelta(hours=1, seconds=-20),
    )
    admin.reload()
    row = admin.locator(f'tr[data-run-status="{reverse("usage:run_status", args=[run.pk])}"]')
    expect(row).to_contain_text("25%")
    expect(row).to_contain_text("Running")
    shoot(admin, "usage-33-sync-running")

    # The worker moves on: the row follows within a poll or two, without a reload.
    admin.evaluate("window.notReloaded = true")
    PullRun.objects.filter(pk=run.pk).update(windows_done=3, rows_written=93)
    expect(admin.locator("tr").filter(has_text="3 of 4 windows")).to_contain_text("75%")
    PullRun.objects.filter(pk=run.pk).update(status="succeeded", windows_done=4, rows_written=124)
    finished = admin.locator("tr").filter(has_text="Succeeded")
    expect(finished).to_contain_text("100%")
    expect(finished).to_contain_text("124")
    assert admin.evaluate("window.notReloaded") is True
    expect(admin.locator("[data-active-runs]")).to_be_hidden()
    shoot(admin, "usage-34-sync-finished")

    finance = new_page()
    sign_in(finance, base, acme.users["finance"].email)
    finance.goto(f"{base}/usage/sync/")
    expect(finance.get_by_role("navigation", name="Usage sections").get_by_role("link")).to_have_text(
        ["Usage", "Data sync"]
    )
    expect(finance.get_by_role("button", name="Start backfill")).to_have_count(0)
    shoot(finance, "usage-35-sync-finance")

    # A base URL on this machine is refused as it is saved, unless the operator allows its host.
    settings.USAGE_HTTP_RETRIES = 0
    admin.goto(f"{base}/usage/settings/")
    admin.get_by_label("Base URL").fill("http://127.0.0.1:9")
    admin.get_by_role("button", name="Save").click()
    expect(admin.get_by_text("127.0.0.1 points to a loopback, private or otherwise internal address.")).to_be_visible()
    settings.USAGE_UPSTREAM_ALLOWED_HOSTS = ["127.0.0.1:9"]

    # A wrong base URL, entered through the form: the test says what is wrong, the page stays usable.
    admin.get_by_role("button", name="Save").click()
    expect(admin.get_by_text("The base URL changed: enter the Customer Secret again.")).to_be_visible()
    admin.get_by_label("Customer Secret").fill("a-new-secret")
    admin.get_by_role("button", name="Save").click()
    expect(admin.get_by_role("status").filter(has_text="Upstream settings saved.")).to_be_visible()
    admin.get_by_role("button", name="Test connection").click()
    expect(admin.get_by_role("status").filter(has_text="connection refused")).to_be_visible()
    shoot(admin, "usage-36-settings-failed")
