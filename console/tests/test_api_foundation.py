"""What both APIs share: the per-organization per-endpoint rate limit and X-Request-ID."""

import base64
import re
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.urls import reverse

from accounts.api_credentials import create_credential
from console import throttling


def basic_for(membership) -> dict:
    """HTTP Basic headers of a new API credential acting for `membership`."""
    pair = create_credential(membership, "tests")
    value = base64.b64encode(f"{pair.credential.customer_id}:{pair.secret}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {value}"}


@pytest.fixture
def basic(acme):
    return basic_for(acme.membership("engineer"))  # the Engineer may issue tokens


def token_url(acme):
    return reverse("api_tokens", kwargs={"project_id": acme.projects[0].project_id})


def issue(client, acme, basic):
    return client.post(token_url(acme), {"type": "rtc", "channel": "demo"}, content_type="application/json", **basic)


def test_the_eleventh_request_within_a_second_gets_429_with_retry_after(acme, basic, client, settings, monkeypatch):
    settings.API_RATE_LIMIT_PER_SECOND = 10
    cache.clear()
    # The limiter's clock stands still a quarter into a second: on a busy machine eleven real requests can
    # straddle a second boundary, which would make this test about the machine instead of the limit.
    monkeypatch.setattr(throttling, "time", SimpleNamespace(time=lambda: 1_000_000.25))
    statuses = [issue(client, acme, basic).status_code for _ in range(11)]
    assert statuses == [200] * 10 + [429]
    refused = issue(client, acme, basic)
    assert refused.status_code == 429 and "message" in refused.json()
    assert refused["Retry-After"] == "1"  # seconds, rounded up


def test_the_limit_is_per_organization_and_per_endpoint(acme, globex, basic, client, settings):
    settings.API_RATE_LIMIT_PER_SECOND = 2
    cache.clear()
    for _ in range(2):
        issue(client, acme, basic)
    # Another endpoint of the same organization, and another organization, still have their quota.
    other_endpoint = reverse(
        "api_community_rtm_token", kwargs={"project_id": acme.projects[0].project_id, "user_id": "someone"}
    )
    assert client.get(other_endpoint, **basic).status_code == 200
    pair = create_credential(globex.membership("engineer"), "tests")
    import base64

    theirs = {
        "HTTP_AUTHORIZATION": "Basic "
        + base64.b64encode(f"{pair.credential.customer_id}:{pair.secret}".encode()).decode()
    }
    response = client.post(
        reverse("api_tokens", kwargs={"project_id": globex.projects[0].project_id}),
        {"type": "rtc", "channel": "demo"},
        content_type="application/json",
        **theirs,
    )
    assert response.status_code == 200


def test_zero_turns_the_limit_off(acme, basic, client, settings):
    settings.API_RATE_LIMIT_PER_SECOND = 0
    assert {issue(client, acme, basic).status_code for _ in range(25)} == {200}


def test_every_response_carries_a_request_id(client, acme, basic):
    first, second = client.get("/accounts/login/"), client.get("/accounts/login/")
    assert re.fullmatch(r"[0-9a-f]{32}", first["X-Request-ID"]) and first["X-Request-ID"] != second["X-Request-ID"]
    assert issue(client, acme, basic)["X-Request-ID"]
    assert client.get("/no-such-page/")["X-Request-ID"]


def test_a_callers_request_id_is_kept_when_it_looks_like_one(client):
    assert client.get("/accounts/login/", HTTP_X_REQUEST_ID="trace-42.a:b")["X-Request-ID"] == "trace-42.a:b"
    forged = client.get("/accounts/login/", HTTP_X_REQUEST_ID="bad id\nSet-Cookie: x")["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", forged)


def test_the_health_endpoint_answers_without_sign_in(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert client.post("/healthz").status_code == 405
