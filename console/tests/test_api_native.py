"""What every endpoint of the native API shares: authentication answers, errors as {"message": ...},
X-Request-ID, cursor pages with a capped size, JSON for unknown paths, and a schema that documents it all."""

from datetime import date, timedelta

import yaml

from console.pagination import MAX_PAGE_SIZE
from console.tests.api_helpers import Api, message
from usage.models import DailyUsage


def test_anonymous_callers_get_401_with_the_basic_challenge(acme, client):
    for url in ("/api/v1/projects/", f"/api/v1/projects/{acme.projects[0].project_id}/certificates/", "/api/v1/audit/"):
        response = client.get(url)
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Basic")
        assert message(response) and response["X-Request-ID"]


def test_wrong_credentials_get_401(db, client):
    response = client.get("/api/v1/projects/", HTTP_AUTHORIZATION="Basic bm9ib2R5Om5vdGhpbmc=")  # nobody:nothing
    assert response.status_code == 401 and "Invalid" in message(response)


def test_a_request_id_given_by_the_caller_comes_back(acme, client):
    api = Api(client, acme.membership("admin"))
    response = client.get("/api/v1/roles/", HTTP_X_REQUEST_ID="script-42.run:7", **api.headers)
    assert response.status_code == 200 and response["X-Request-ID"] == "script-42.run:7"
    response = client.get("/api/v1/roles/", HTTP_X_REQUEST_ID="not an id!", **api.headers)
    assert response["X-Request-ID"] != "not an id!" and len(response["X-Request-ID"]) == 32


def test_unknown_paths_under_v1_answer_json(acme, client):
    api = Api(client, acme.membership("admin"))
    for path in (
        "/api/v1/nothing/",
        "/api/v1/projects/not%20an%20id/",
        f"/api/v1/projects/{acme.projects[0].project_id}",
    ):
        response = api.get(path)
        assert response.status_code == 404 and message(response) == "No such API endpoint."
    response = api.post("/api/v1/projects/bad%0Aid/disable/")
    assert response.status_code == 404 and message(response)


def test_page_size_is_capped(acme, client):
    project = acme.projects[0]
    start = date(2024, 1, 1)
    DailyUsage.objects.bulk_create(
        DailyUsage(project=project, date=start + timedelta(days=n)) for n in range(MAX_PAGE_SIZE + 5)
    )
    api = Api(client, acme.membership("admin"))
    body = api.get("/api/v1/usage/daily/", {"page_size": 100_000}).json()
    assert len(body["results"]) == MAX_PAGE_SIZE and body["next"]
    rest = api.get(body["next"]).json()
    assert len(rest["results"]) == 5 and rest["next"] is None and rest["previous"]


def test_the_schema_documents_every_native_endpoint_and_its_errors(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    paths = schema["paths"]
    for path in (
        "/api/v1/projects/",
        "/api/v1/projects/{project_id}/certificates/swap/",
        "/api/v1/projects/{project_id}/certificates/reveal/{slot}/",
        "/api/v1/usage/summary/",
        "/api/v1/statements/{number}/",
        "/api/v1/members/{id}/",
        "/api/v1/audit/",
    ):
        assert path in paths, path
    swap = paths["/api/v1/projects/{project_id}/certificates/swap/"]["post"]
    assert {"200", "400", "401", "403", "404", "409"} <= set(swap["responses"])
    assert swap["responses"]["409"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert "X-Request-ID" in swap["responses"]["200"]["headers"]
    assert schema["components"]["schemas"]["Error"]["required"] == ["message"]
    certificate = schema["components"]["schemas"]["Certificate"]["properties"]
    assert "value" not in certificate  # only the reveal answer carries a value
