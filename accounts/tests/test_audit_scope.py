"""The audit log follows the member's project scope (security finding 8 of issue 11).

A member whose role sees selected projects only, given *audit: view*, reads the entries that name no project
(sign-ins, members, roles, billing) and those about their projects; never another project's name, project
ID, App ID or certificate fingerprint, on the page, in its filters, in a search or in the CSV. Members who
see every project see every entry.
"""

import csv
import io
from importlib import import_module
from urllib.parse import unquote_plus

import pytest
from django.apps import apps as django_apps
from django.test import RequestFactory
from django.urls import reverse

from accounts import audit
from accounts.models import AuditEntry, Membership, Role, User
from conftest import PASSWORD
from console.tests.api_helpers import Api
from projects import services
from projects.models import Project
from tokens.services import issue_temp_token

AUDIT, CSV = "/audit/", "/audit/export.csv"


def by(user):
    """A request made by `user`: the audit entry records them as its actor."""
    request = RequestFactory().post("/")
    request.user = user
    return request


def page_of(client, query: str = "") -> str:
    response = client.get(f"{AUDIT}{query}")
    assert response.status_code == 200
    return response.content.decode()


def csv_of(client, query: str = "") -> str:
    response = client.get(f"{CSV}{query}")
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode()


def csv_targets(text: str) -> set[str]:
    return {row[3] for row in list(csv.reader(io.StringIO(text)))[1:]}


@pytest.fixture
def auditor(acme):
    """A member who may read the audit log and sees Acme's first project only."""
    role = Role.objects.create(
        organization=acme.organization, name="Project one auditor", levels={"audit": "view"}, all_projects=False
    )
    role.projects.set([acme.projects[0]])
    user = User.objects.create_user("auditor@acme.test", PASSWORD)
    return Membership.objects.create(user=user, organization=acme.organization, role=role)


@pytest.fixture
def ops(acme):
    """A second engineer, who sees every project but works on the second one only."""
    user = User.objects.create_user("ops@acme.test", PASSWORD)
    return Membership.objects.create(user=user, organization=acme.organization, role=acme.roles["engineer"])


@pytest.fixture
def activity(acme, ops):
    """The engineer reveals the first project's certificate; ops reveals the second's and renames it."""
    mine, theirs = acme.projects
    engineer = acme.membership("engineer")
    services.reveal_certificate(engineer, mine, "primary", request=by(engineer.user))
    services.reveal_certificate(ops, theirs, "primary", request=by(ops.user))
    services.update_project(
        ops, theirs, name="Secret launch", use_case="gaming", region="global", stage="live", request=by(ops.user)
    )
    audit.record("role.created", actor=None, organization=acme.organization, target="Night shift", levels={})
    return mine, Project.objects.get(pk=theirs.pk)


def secrets_of(project: Project) -> list[str]:
    """What identifies a project in the log."""
    return [project.name, project.project_id, project.app_id, project.primary.fingerprint]


# The attack -------------------------------------------------------------------------------------------


def test_a_scoped_auditor_reads_only_their_projects_entries_on_the_page(acme, auditor, activity, client_for):
    mine, theirs = activity
    html = page_of(client_for(auditor.user))
    for value in [*secrets_of(theirs), "Acme project 2", "ops@acme.test"]:
        assert value not in html, value
    for value in [mine.name, mine.project_id, mine.primary.fingerprint, "engineer@acme.test"]:
        assert value in html, value
    # Entries that name no project stay: the organization, roles, the auditor's own sign-in.
    for value in ["org.created", "Night shift", "auditor@acme.test"]:
        assert value in html, value


def test_a_scoped_auditors_csv_holds_only_their_projects_entries(acme, auditor, activity, client_for):
    mine, theirs = activity
    text = csv_of(client_for(auditor.user))
    for value in [*secrets_of(theirs), "Acme project 2", "ops@acme.test"]:
        assert value not in text, value
    for value in [mine.name, mine.project_id, mine.primary.fingerprint]:
        assert value in text, value
    assert {"Acme", "Night shift", "auditor@acme.test"} <= csv_targets(text)


@pytest.mark.parametrize(
    "query",
    ["?q=Secret", "?q=Acme+project+2", "?actor=ops@acme.test", "?action=project.updated", "?o=target&page=1"],
)
def test_search_and_filters_do_not_reach_other_projects(acme, auditor, activity, client_for, query):
    mine, theirs = activity
    client = client_for(auditor.user)
    response = client.get(f"{AUDIT}{query}")
    assert all(entry.project_id in (None, mine.pk) for entry in response.context["changelist"].page.object_list)
    html, text = response.content.decode(), csv_of(client, query)
    for value in [*secrets_of(theirs), "Acme project 2", "ops@acme.test"]:
        if value not in unquote_plus(query):  # the search box shows what was searched
            assert value not in html, (query, value)
        assert value not in text, (query, value)


def test_the_actor_filter_lists_only_actors_of_visible_entries(acme, auditor, activity, client_for):
    response = client_for(auditor.user).get(AUDIT)
    actors = {value for value, _ in response.context["changelist"].filters[1].choices}
    assert "engineer@acme.test" in actors and "auditor@acme.test" in actors
    assert "ops@acme.test" not in actors


@pytest.mark.parametrize("key", ["admin", "cs_maintenance"])
def test_members_who_see_every_project_see_every_entry(acme, auditor, activity, client_for, key):
    mine, theirs = activity
    client = client_for(acme.users[key])
    html, text = page_of(client), csv_of(client)
    for value in [mine.primary.fingerprint, theirs.primary.fingerprint, "Secret launch", "ops@acme.test"]:
        assert value in html and value in text, value


def test_a_second_scoped_project_adds_its_entries(acme, auditor, activity, client_for):
    mine, theirs = activity
    auditor.role.projects.add(theirs)
    html = page_of(client_for(auditor.user))
    assert "Secret launch" in html and theirs.primary.fingerprint in html and "ops@acme.test" in html


def test_a_scoped_auditor_never_sees_another_organizations_entries(acme, globex, auditor, client_for):
    services.reveal_certificate(globex.membership("admin"), globex.projects[0], "primary")
    html = page_of(client_for(auditor.user))
    assert globex.projects[0].name not in html and globex.projects[0].primary.fingerprint not in html


# Deleted projects -------------------------------------------------------------------------------------


def test_entries_about_a_deleted_project_are_hidden_from_scoped_members(acme, auditor, client_for):
    """Once a project is gone, nothing proves it was in the member's scope: its entries stay for members
    who see every project only."""
    doomed = services.create_project(acme.membership("admin"), name="Doomed")
    auditor.role.projects.add(doomed)
    fingerprint = doomed.primary.fingerprint
    services.reveal_certificate(acme.membership("admin"), doomed, "primary")
    client = client_for(auditor.user)
    assert fingerprint in page_of(client)  # in scope while it exists

    Project.objects.filter(pk=doomed.pk).delete()

    entries = AuditEntry.objects.filter(target="Doomed")
    assert entries.count() == 2 and all(e.project_id is None and e.about_project for e in entries)
    assert "Doomed" not in page_of(client) and "Doomed" not in csv_of(client)
    admin = client_for(acme.users["admin"])
    assert fingerprint in page_of(admin) and fingerprint in csv_of(admin)


# Every door that writes about a project names it ------------------------------------------------------


def test_every_project_action_records_its_project(acme, client_for):
    admin = acme.membership("admin")
    project = services.create_project(admin, name="Busy", mechanism=Project.Mechanism.APP_ID)
    services.update_project(admin, project, name="Busier", use_case="gaming", region="global", stage="live")
    services.set_enabled(admin, project, False)
    services.set_enabled(admin, project, True)
    services.set_recording_server(admin, project, "203.0.113.7:8080")
    services.enable_primary(admin, project)
    services.reveal_certificate(admin, project, "primary")
    services.enable_secondary(admin, project)
    services.swap_certificates(admin, project)
    services.disable_secondary(admin, project)
    services.delete_secondary(admin, project)
    services.reset_primary(admin, project)
    issue_temp_token(admin, project, "chat_app", {"expire": 120})
    services.require_tokens(admin, project)
    services.set_archived(admin, project, True)
    services.set_archived(admin, project, False)
    client = client_for(acme.users["admin"])
    mapping = {"project": project.project_id, "upstream_project_id": "upstream-1", "action": "save"}
    assert client.post(reverse("usage:mappings"), mapping).status_code == 302

    entries = AuditEntry.objects.exclude(action__in=["auth.login"]).filter(created_at__gte=project.created_at)
    assert {entry.action for entry in entries} >= {
        "project.created",
        "project.updated",
        "project.disabled",
        "project.enabled",
        "project.recording_server",
        "certificate.primary_enabled",
        "certificate.revealed",
        "certificate.secondary_enabled",
        "certificate.swapped",
        "certificate.secondary_disabled",
        "certificate.secondary_deleted",
        "certificate.primary_reset",
        "token.generated",
        "project.token_only",
        "project.archived",
        "project.unarchived",
        "usage.mapping_changed",
    }
    for entry in entries:
        assert entry.project_id == project.pk and entry.about_project, entry.action


def test_a_scoped_creators_scope_widening_is_about_the_new_project(acme):
    role = Role.objects.create(
        organization=acme.organization, name="Solo", levels={"projects": "edit"}, all_projects=False
    )
    user = User.objects.create_user("solo@acme.test", PASSWORD)
    solo = Membership.objects.create(user=user, organization=acme.organization, role=role)
    project = services.create_project(solo, name="Solo's own")
    entry = AuditEntry.objects.get(action="role.scope_widened")
    assert entry.project == project and entry.target == "Solo"
    assert entry.details["project_id"] == project.project_id and entry.details["project_name"] == "Solo's own"


def test_a_backfill_of_one_project_is_about_it_and_of_all_projects_about_none(acme, client_for, monkeypatch):
    from usage import tasks

    monkeypatch.setattr(tasks.execute_pull_run, "delay", lambda run_id: None)
    client = client_for(acme.users["admin"])
    project = acme.projects[1]
    for chosen in (project.project_id, ""):
        data = {"project": chosen, "date_from": "2025-01-01", "date_to": "2025-01-02"}
        assert client.post(reverse("usage:sync"), data).status_code == 302
    one, everything = AuditEntry.objects.filter(action="usage.backfill_started").order_by("id")
    assert one.project == project and one.about_project
    assert everything.project is None and not everything.about_project


def test_a_project_action_written_without_its_project_is_kept_from_scoped_members(acme, auditor, client_for):
    """Fail closed: an entry that is about a project by its action, written without the project (or naming
    several), cannot be matched to a scope."""
    mine = acme.projects[0]
    entry = audit.record(
        "certificate.revealed",
        actor=None,
        organization=acme.organization,
        target="2 projects",
        project_ids=[mine.project_id],
    )
    assert entry.about_project and entry.project is None
    assert "2 projects" not in page_of(client_for(auditor.user))
    assert "2 projects" in page_of(client_for(acme.users["admin"]))


def test_an_entry_about_another_organizations_project_is_refused(acme, globex):
    with pytest.raises(ValueError):
        audit.record("certificate.revealed", actor=None, organization=acme.organization, project=globex.projects[0])


# Entries written before projects were recorded --------------------------------------------------------


def test_older_project_entries_are_kept_from_scoped_members_unless_their_project_id_proves_the_project(
    acme, auditor, client_for
):
    mine, theirs = acme.projects

    def legacy(action, target, **details):
        return AuditEntry.objects.create(organization=acme.organization, action=action, target=target, details=details)

    proven = legacy("usage.mapping_changed", mine.name, project_id=mine.project_id, new="proven-mapping")
    unproven = legacy("certificate.revealed", mine.name, slot="primary", fingerprint="0ldf1ng3")
    other = legacy("project.updated", theirs.name, stage={"old": "testing", "new": "leaked-stage"})
    all_projects = legacy("usage.backfill_started", "All enabled projects", run=1)
    organization_level = legacy("role.deleted", "Old role")

    import_module("accounts.migrations.0006_mark_project_audit_entries").mark_project_entries(django_apps, None)

    def fresh(entry):
        return AuditEntry.objects.get(pk=entry.pk)

    assert (fresh(proven).project, fresh(proven).about_project) == (mine, True)
    assert (fresh(unproven).project, fresh(unproven).about_project) == (None, True)
    assert (fresh(other).project, fresh(other).about_project) == (None, True)
    assert not fresh(all_projects).about_project and not fresh(organization_level).about_project
    html = page_of(client_for(auditor.user))
    assert "proven-mapping" in html and "Old role" in html
    assert "0ldf1ng3" not in html and "leaked-stage" not in html


# The native API ---------------------------------------------------------------------------------------


def test_the_native_api_audit_log_follows_the_scope_too(acme, auditor, activity, client):
    mine, theirs = activity
    response = Api(client, auditor).get("/api/v1/audit/")
    assert response.status_code == 200
    text = response.content.decode()
    assert mine.primary.fingerprint in text
    for value in [*secrets_of(theirs), "ops@acme.test"]:
        assert value not in text, value
