"""The token API caches project facts and memberships; every change must be visible at once."""

import json

import pytest

from accounts import services as account_services
from projects import services as project_services
from tokens.accesstoken2 import parse


@pytest.fixture
def api(acme, client):
    client.force_login(acme.users["engineer"])
    return client


def issue(client, project):
    body = json.dumps({"type": "rtc", "channel": "demo", "uid": 7})
    return client.post(f"/api/v1/projects/{project.project_id}/tokens", body, content_type="application/json")


def test_disabling_the_project_stops_tokens_at_once(api, acme):
    project = acme.projects[0]
    assert issue(api, project).status_code == 200  # now cached
    project_services.set_enabled(acme.membership("admin"), project, False)
    assert issue(api, project).status_code == 403


def test_a_swap_signs_the_next_token_with_the_new_primary(api, acme):
    project = acme.projects[0]
    admin = acme.membership("admin")
    issue(api, project)
    project_services.enable_secondary(admin, project)
    project_services.swap_certificates(admin, project)
    project.refresh_from_db()
    token = parse(issue(api, project).json()["token"])
    assert token.verify(project.primary.value)


def test_losing_the_role_stops_tokens_at_once(api, acme):
    project = acme.projects[0]
    assert issue(api, project).status_code == 200
    account_services.change_member_role(acme.membership("admin"), acme.membership("engineer"), acme.roles["finance"])
    assert issue(api, project).status_code == 403


def test_narrowing_the_scope_hides_the_project_at_once(api, acme):
    project, other = acme.projects
    admin = acme.membership("admin")
    scoped = account_services.create_role(
        admin,
        name="Token makers",
        levels={"projects": "view", "tokens": "generate"},
        all_projects=False,
        projects=[project, other],
    )
    account_services.change_member_role(admin, acme.membership("engineer"), scoped)
    assert issue(api, other).status_code == 200
    account_services.update_role(
        admin,
        scoped,
        name="Token makers",
        levels={"projects": "view", "tokens": "generate"},
        all_projects=False,
        projects=[project],
    )
    assert issue(api, other).status_code == 404
    assert issue(api, project).status_code == 200


def test_suspending_the_organization_stops_tokens_at_once(api, acme):
    project = acme.projects[0]
    assert issue(api, project).status_code == 200
    organization = acme.organization
    organization.suspended_at = organization.created_at
    organization.save()
    assert issue(api, project).status_code == 403
