"""Certificates read through Agora's API (`sign_key` in /dev/v1/projects and /dev/v1/project) are audited:
one `certificate.revealed` entry per answer that carries certificate values, naming the caller (the member
and the credential's Customer ID) and the projects, never the values. Cached answers are audited too."""

import base64
import json

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.api_credentials import create_credential
from accounts.models import AuditEntry
from projects import services as project_services
from projects.models import Certificate, fingerprint

REVEALED = "certificate.revealed"


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()  # cached answers and counts of other tests (whose ids a new database may reuse)


def credential(membership) -> tuple[str, dict]:
    """A new API credential acting for `membership`: its Customer ID and the test client's Basic header."""
    pair = create_credential(membership, "audit test")
    value = base64.b64encode(f"{pair.credential.customer_id}:{pair.secret}".encode()).decode()
    return pair.credential.customer_id, {"HTTP_AUTHORIZATION": f"Basic {value}"}


def reveals(organization) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=REVEALED, organization=organization).order_by("id"))


def values(organization) -> list[str]:
    return [c.value for c in Certificate.objects.filter(project__organization=organization)]


def assert_no_certificate_in(entry: AuditEntry, organization) -> None:
    text = json.dumps(entry.details) + entry.target + entry.user_agent
    for value in values(organization):
        assert value not in text


def test_listing_projects_with_their_certificates_writes_one_entry(acme, client):
    customer_id, headers = credential(acme.membership("admin"))
    response = client.get("/dev/v1/projects", HTTP_USER_AGENT="token-server/1.0", **headers)
    assert response.status_code == 200
    assert all(project["sign_key"] for project in response.json()["projects"])

    [entry] = reveals(acme.organization)
    assert entry.actor == acme.users["admin"] and entry.actor_email == "admin@acme.test"
    assert entry.user_agent == "token-server/1.0" and entry.ip_address == "127.0.0.1"
    ids = [project.project_id for project in acme.projects]
    assert entry.target == "2 projects"
    assert entry.details == {
        "via": "api",
        "path": "/dev/v1/projects",
        "credential": customer_id,
        "slot": "primary",
        "count": 2,
        "project_ids": ids,
        "fingerprints": [project.primary.fingerprint for project in acme.projects],
    }
    assert_no_certificate_in(entry, acme.organization)


def test_a_second_listing_served_from_the_cache_writes_a_second_entry(acme, client):
    _, headers = credential(acme.membership("engineer"))
    first = client.get("/dev/v1/projects", **headers)
    with CaptureQueriesContext(connection) as queries:
        second = client.get("/dev/v1/projects", **headers)
    assert second.json() == first.json()
    assert not [q for q in queries.captured_queries if "projects_project" in q["sql"]], "not served from the cache"
    entries = reveals(acme.organization)
    assert len(entries) == 2
    assert {entry.actor for entry in entries} == {acme.users["engineer"]}
    assert entries[0].details == entries[1].details


def test_a_listing_without_certificate_values_writes_nothing(acme, client):
    # Product/Operation has projects "view" but no certificates level: every sign_key is "".
    _, headers = credential(acme.membership("product_operation"))
    response = client.get("/dev/v1/projects", **headers)
    assert response.status_code == 200 and not any(p["sign_key"] for p in response.json()["projects"])
    assert reveals(acme.organization) == []


def test_only_projects_whose_certificate_was_returned_are_named(acme, client):
    admin = acme.membership("admin")
    open_project = project_services.create_project(admin, name="No certificate", mechanism="app_id")
    customer_id, headers = credential(admin)
    listed = client.get("/dev/v1/projects", **headers).json()["projects"]
    assert [p["sign_key"] for p in listed if p["id"] == open_project.project_id] == [""]
    [entry] = reveals(acme.organization)
    assert entry.details["project_ids"] == [project.project_id for project in acme.projects]
    assert entry.details["count"] == 2


def test_one_project_by_id_writes_an_entry_naming_it(acme, client):
    project = acme.projects[1]
    customer_id, headers = credential(acme.membership("admin"))
    response = client.get(f"/dev/v1/project?id={project.project_id}", **headers)
    assert response.status_code == 200
    [entry] = reveals(acme.organization)
    assert entry.target == project.name
    assert entry.details["project_ids"] == [project.project_id]
    assert entry.details["fingerprints"] == [fingerprint(response.json()["projects"][0]["sign_key"])]
    assert entry.details["credential"] == customer_id and entry.details["path"] == "/dev/v1/project"
    assert_no_certificate_in(entry, acme.organization)


def test_a_change_whose_answer_carries_the_certificate_is_audited_as_a_read_too(acme, client):
    project = acme.projects[0]
    _, headers = credential(acme.membership("admin"))
    response = client.post(
        "/dev/v1/reset_signkey", json.dumps({"id": project.project_id}), content_type="application/json", **headers
    )
    assert response.status_code == 200 and response.json()["project"]["sign_key"]
    actions = list(AuditEntry.objects.filter(organization=acme.organization).order_by("id").values_list("action"))
    assert actions[-2:] == [("certificate.primary_reset",), (REVEALED,)]
    [entry] = reveals(acme.organization)
    assert entry.details["fingerprints"] == [Certificate.objects.get(project=project, slot="primary").fingerprint]


def test_a_refused_or_failed_request_writes_no_read(acme, client):
    _, headers = credential(acme.membership("finance"))  # no projects level: 403
    assert client.get("/dev/v1/projects", **headers).status_code == 403
    _, headers = credential(acme.membership("admin"))
    assert client.get("/dev/v1/project?id=nosuchone", **headers).status_code == 404
    assert reveals(acme.organization) == []


def test_a_member_signed_in_with_the_browser_is_named_as_a_session(acme, client):
    client.force_login(acme.users["engineer"])
    assert client.get("/dev/v1/projects").status_code == 200
    [entry] = reveals(acme.organization)
    assert entry.actor == acme.users["engineer"] and entry.details["credential"] == "session"
