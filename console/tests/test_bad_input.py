"""Bad input never produces a 500: every URL of the console, GET and POST, with junk parameters."""

import pytest
from django.urls import reverse

from .test_permission_matrix import EXPECTATIONS, objects  # noqa: F401  (the fixture)

JUNK = {
    "organization": "abc",
    "email": "not-an-email",
    "username": "' OR 1=1 --",
    "password": "",
    "role": "x",
    "name": "n" * 500,
    "all_projects": "maybe",
    "projects": ["nope", "-1"],
    "level_projects": "superuser",
    "level_members": "",
    "page": "-7",
    "o": "password",
    "q": "%_\\\x00",
    "from": "2026-13-45",
    "to": "yesterday",
    "action": "<script>",
    "status": "'",
}


@pytest.mark.parametrize("who", ["anonymous", "admin", "engineer"])
def test_junk_never_causes_a_server_error(who, acme, objects, client):  # noqa: F811
    for name in sorted(EXPECTATIONS):
        url = reverse(name, kwargs=objects.get(name, {}))
        for method in (client.get, client.post):
            if who != "anonymous":
                client.force_login(acme.users[who])  # again: the junk may have signed out
            response = method(url, JUNK)
            assert response.status_code < 500, f"{method.__name__.upper()} {url} as {who}: {response.status_code}"


@pytest.mark.parametrize(
    "url", ["/projects/new/", "/members/invite/", "/members/roles/new/", "/settings/organization/"]
)
def test_an_empty_post_shows_what_is_missing(url, acme, client):
    client.force_login(acme.users["admin"])
    response = client.post(url, {})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()


def test_an_empty_sign_up_post_shows_what_is_missing(db, client):
    response = client.post("/accounts/signup/", {})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
