"""The native API for projects and App Certificates (/api/v1/projects/...), called with an API credential."""

import pytest

from accounts.models import AuditEntry
from conftest import reauthenticated
from console.tests.api_helpers import Api, message
from projects import services
from projects.models import Certificate, Project

PROJECTS = "/api/v1/projects/"


def project_url(project, suffix: str = "") -> str:
    return f"{PROJECTS}{project.project_id}/{suffix}"


def certificates_url(project, suffix: str = "") -> str:
    return project_url(project, f"certificates/{suffix}")


def fresh(project) -> Project:
    return Project.objects.prefetch_related("certificates").get(pk=project.pk)


def actions(organization) -> list[str]:
    return list(AuditEntry.objects.filter(organization=organization).order_by("id").values_list("action", flat=True))


@pytest.fixture
def api(acme, client):
    return Api(client, acme.membership("engineer"))


@pytest.fixture
def project(acme):
    return acme.projects[0]


# Projects ---------------------------------------------------------------------------------------


def test_the_list_holds_the_organizations_projects_only(acme, globex, api):
    response = api.get(PROJECTS)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    assert sorted(p["project_id"] for p in body["results"]) == sorted(p.project_id for p in acme.projects)
    first = next(p for p in body["results"] if p["project_id"] == acme.projects[0].project_id)
    assert first["app_id"] == acme.projects[0].app_id
    assert first["mechanism"] == "secured" and first["enabled"] is True and first["archived"] is False
    assert "certificates" not in first


def test_the_list_filters_by_status_stage_archived_and_name(acme, api):
    admin = acme.membership("admin")
    first, second = acme.projects
    services.set_enabled(admin, first, False)
    services.update_project(admin, second, name="Live one", use_case="social", region="global", stage="live")
    archived = services.create_project(admin, name="Old stuff")
    services.set_archived(admin, archived, True)

    def listed(**params) -> set[str]:
        response = api.get(PROJECTS, params)
        assert response.status_code == 200, response.content
        return {p["name"] for p in response.json()["results"]}

    assert listed(status="disabled") == {first.name}
    assert listed(status="enabled") == {"Live one", "Old stuff"}
    assert listed(stage="live") == {"Live one"}
    assert listed(archived="true") == {"Old stuff"}
    assert listed(archived="false") == {first.name, "Live one"}
    assert listed(search="LIVE") == {"Live one"}
    response = api.get(PROJECTS, {"stage": "production"})
    assert response.status_code == 400 and "stage" in message(response)


def test_get_one_project_by_its_project_id(acme, api, project):
    response = api.get(project_url(project))
    assert response.status_code == 200
    assert response.json()["name"] == project.name and response.json()["project_id"] == project.project_id


def test_another_organizations_project_is_not_found(globex, api):
    response = api.get(project_url(globex.projects[0]))
    assert response.status_code == 404
    assert message(response)
    assert api.post(project_url(globex.projects[0], "disable/")).status_code == 404
    assert api.get(certificates_url(globex.projects[0])).status_code == 404


def test_create_a_project(acme, api):
    response = api.post(PROJECTS, {"name": "  Mobile app  ", "use_case": "gaming", "region": "europe"})
    assert response.status_code == 201, response.content
    body = response.json()
    project = Project.objects.get(project_id=body["project_id"])
    assert project.name == "Mobile app" and project.use_case == "gaming" and project.region == "europe"
    assert project.organization == acme.organization
    assert body["mechanism"] == "secured" and project.primary is not None
    assert actions(acme.organization)[-1] == "project.created"
    entry = AuditEntry.objects.filter(action="project.created").latest("id")
    assert entry.actor == acme.users["engineer"]


def test_create_an_app_id_only_project(acme, api):
    response = api.post(PROJECTS, {"name": "Quick test", "mechanism": "app_id"})
    assert response.status_code == 201
    assert fresh(Project.objects.get(project_id=response.json()["project_id"])).primary is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"name": "Fine", "region": "mars"}, "region"),
        ({"name": "acme PROJECT 1"}, "exists already"),
    ],
)
def test_bad_projects_are_refused_with_a_message(acme, api, body, expected):
    count = Project.objects.count()
    response = api.post(PROJECTS, body)
    assert response.status_code == 400
    assert expected in message(response)
    assert Project.objects.count() == count


def test_a_body_that_is_not_an_object_is_refused(api):
    response = api.client.post(PROJECTS, "[1, 2]", content_type="application/json", **api.headers)
    assert response.status_code == 400 and message(response)
    response = api.client.post(PROJECTS, "{not json", content_type="application/json", **api.headers)
    assert response.status_code == 400 and message(response)


def test_the_project_limit_applies(acme, api, settings):
    settings.PROJECT_LIMIT = 2
    response = api.post(PROJECTS, {"name": "One too many"})
    assert response.status_code == 400
    assert "limit of 2" in message(response)


def test_patch_changes_only_the_fields_given(acme, api, project):
    response = api.patch(project_url(project), {"stage": "live"})
    assert response.status_code == 200, response.content
    project = fresh(project)
    assert project.stage == "live" and project.name == "Acme project 1" and project.use_case == "other"
    entry = AuditEntry.objects.filter(action="project.updated").latest("id")
    assert entry.details == {"stage": {"old": "not_specified", "new": "live"}}
    response = api.patch(project_url(project), {"name": "Acme project 2"})
    assert response.status_code == 400 and "exists already" in message(response)


def test_put_is_not_offered(api, project):
    response = api.client.put(project_url(project), "{}", content_type="application/json", **api.headers)
    assert response.status_code == 405 and message(response)


@pytest.mark.parametrize(
    ("action", "check"),
    [
        ("disable", lambda p: p.enabled is False),
        ("archive", lambda p: p.archived_at is not None),
    ],
)
def test_project_actions(acme, api, project, action, check):
    response = api.post(project_url(project, f"{action}/"))
    assert response.status_code == 200
    assert check(fresh(project))
    undo = {"disable": "enable", "archive": "unarchive"}[action]
    assert api.post(project_url(project, f"{undo}/")).status_code == 200
    project = fresh(project)
    assert project.enabled and project.archived_at is None
    assert actions(acme.organization)[-2:] == [f"project.{action}d", f"project.{undo}d"]


# Certificates -----------------------------------------------------------------------------------


def test_certificates_show_both_slots_and_never_a_value(api, project):
    response = api.get(certificates_url(project))
    assert response.status_code == 200
    body = response.json()
    primary = project.primary
    assert body["project_id"] == project.project_id and body["certificates_version"] == 0
    assert body["primary"]["fingerprint"] == primary.fingerprint and body["primary"]["enabled"] is True
    assert body["secondary"] is None
    assert primary.value not in response.content.decode()


def test_reveal_returns_the_value_and_is_audited(acme, api, project):
    response = api.post(certificates_url(project, "reveal/primary/"))
    assert response.status_code == 200
    assert response.json() == {
        "slot": "primary",
        "fingerprint": project.primary.fingerprint,
        "value": project.primary.value,
    }
    assert response["Cache-Control"] == "no-store"
    entry = AuditEntry.objects.filter(action="certificate.revealed").latest("id")
    assert entry.details == {"slot": "primary", "fingerprint": project.primary.fingerprint}
    assert entry.actor == acme.users["engineer"]


def test_revealing_a_missing_secondary_is_not_found(api, project):
    response = api.post(certificates_url(project, "reveal/secondary/"))
    assert response.status_code == 404 and "no secondary" in message(response)
    assert api.post(certificates_url(project, "reveal/tertiary/")).status_code == 404


def test_a_whole_rotation_through_the_api(acme, api, project):
    old_primary = project.primary.fingerprint
    response = api.post(certificates_url(project, "enable_secondary/"), {"expected_version": 0})
    assert response.status_code == 200, response.content
    body = response.json()
    new = body["secondary"]["fingerprint"]
    assert body["certificates_version"] == 1 and body["secondary"]["enabled"]

    body = api.post(certificates_url(project, "swap/"), {"expected_version": 1}).json()
    assert body["primary"]["fingerprint"] == new and body["secondary"]["fingerprint"] == old_primary
    assert body["secondary"]["retired_at"] is not None

    assert api.post(certificates_url(project, "disable_secondary/")).status_code == 200
    body = api.post(certificates_url(project, "delete_secondary/")).json()
    assert body["secondary"] is None and body["certificates_version"] == 4
    assert actions(acme.organization)[-4:] == [
        "certificate.secondary_enabled",
        "certificate.swapped",
        "certificate.secondary_disabled",
        "certificate.secondary_deleted",
    ]


def test_a_stale_expected_version_is_a_conflict_and_changes_nothing(api, project):
    services.enable_secondary(project.organization.memberships.get(role__builtin_key="admin"), project)
    before = fresh(project)
    response = api.post(certificates_url(project, "swap/"), {"expected_version": 0})
    assert response.status_code == 409
    assert "version 1, not 0" in message(response)
    after = fresh(project)
    assert after.certificates_version == 1 and after.primary.value == before.primary.value


def test_a_refused_operation_is_a_bad_request(api, project):
    response = api.post(certificates_url(project, "delete_secondary/"), {"expected_version": 0})
    assert response.status_code == 400
    assert "no secondary certificate" in message(response)
    response = api.post(certificates_url(project, "swap/"), {"expected_version": -1})
    assert response.status_code == 400 and "expected_version" in message(response)


def test_reset_primary_and_require_tokens(acme, api):
    open_project = services.create_project(acme.membership("admin"), name="Open", mechanism="app_id")
    assert api.post(certificates_url(open_project, "require_tokens/")).status_code == 400  # no primary yet
    assert api.post(certificates_url(open_project, "enable_primary/")).status_code == 200
    body = api.post(certificates_url(open_project, "require_tokens/")).json()
    assert body["mechanism"] == "secured"
    before = body["primary"]["fingerprint"]
    body = api.post(certificates_url(open_project, "reset_primary/")).json()
    assert body["primary"]["fingerprint"] != before


def test_a_browser_session_needs_sudo_mode_for_destructive_operations(acme, client, project):
    client.force_login(acme.users["engineer"])
    url = certificates_url(project, "enable_secondary/")
    assert client.post(url, "{}", content_type="application/json").status_code == 200  # not destructive
    response = client.post(certificates_url(project, "swap/"), "{}", content_type="application/json")
    assert response.status_code == 403 and "password" in message(response)
    assert fresh(project).certificates_version == 1
    reauthenticated(client, acme.users["engineer"])  # the password confirmed in the console a moment ago
    response = client.post(certificates_url(project, "swap/"), "{}", content_type="application/json")
    assert response.status_code == 200
    assert Certificate.objects.get(project=project, slot="secondary").retired_at is not None


def test_a_browser_session_needs_the_csrf_token_to_change_anything(acme, project):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(acme.users["engineer"])
    assert browser.get(project_url(project)).status_code == 200
    response = browser.post(project_url(project, "disable/"))
    assert response.status_code == 403 and "CSRF" in message(response)
    assert fresh(project).enabled
