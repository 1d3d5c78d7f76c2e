"""GET /dev/v1/projects is served from the cache (every change shows at once); lookups never fail on odd input."""

import base64

from accounts.api_credentials import create_credential
from accounts.services import create_role
from projects import services


def basic(membership) -> dict:
    pair = create_credential(membership, "cache test")
    value = base64.b64encode(f"{pair.credential.customer_id}:{pair.secret}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {value}"}


def listed(client, headers) -> dict:
    response = client.get("/dev/v1/projects", **headers)
    assert response.status_code == 200
    return {project["id"]: project for project in response.json()["projects"]}


def test_changes_to_projects_and_certificates_show_at_once(acme, client):
    admin = acme.membership("admin")
    headers = basic(admin)
    project = acme.projects[0]
    before = listed(client, headers)[project.project_id]
    services.update_project(
        admin, project, name="Renamed", use_case=project.use_case, region=project.region, stage=project.stage
    )
    services.reset_primary(admin, project)
    after = listed(client, headers)[project.project_id]
    assert after["name"] == "Renamed" and after["sign_key"] not in ("", before["sign_key"])
    services.set_archived(admin, project, True)
    assert project.project_id not in listed(client, headers)


def test_the_callers_scope_and_level_are_part_of_the_answer(acme, client):
    admin = acme.membership("admin")
    everything = listed(client, basic(admin))
    engineer = acme.membership("engineer")
    scoped = create_role(
        admin, name="One project", levels={"projects": "view"}, all_projects=False, projects=[acme.projects[1]]
    )
    engineer.role = scoped
    engineer.save()
    seen = listed(client, basic(engineer))
    assert set(seen) == {acme.projects[1].project_id} and len(everything) == 2
    assert seen[acme.projects[1].project_id]["sign_key"] == ""  # no certificates level
    assert everything[acme.projects[1].project_id]["sign_key"] != ""


def test_a_nul_byte_in_the_lookup_is_not_found_rather_than_an_error(acme, client):
    headers = basic(acme.membership("admin"))
    for query in ("name=Acme%00", "id=abc%00def", f"id={acme.projects[0].project_id}&name=x%00"):
        response = client.get(f"/dev/v1/project?{query}", **headers)
        assert response.status_code == 404 and response.json() == {"message": "project not exist"}
