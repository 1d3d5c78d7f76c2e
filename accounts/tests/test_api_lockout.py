"""Failed HTTP Basic authentications are counted per client address: past API_AUTH_FAILURE_LIMIT within the
window, every Basic attempt from that address answers 429 with Retry-After, its secret not checked."""

import base64
import time

import pytest
from django.core.cache import cache
from django.urls import reverse

from accounts.api_credentials import create_credential

LIMIT = 10
WINDOW_MINUTES = 15


@pytest.fixture(autouse=True)
def _fresh_counts(settings):
    settings.API_AUTH_FAILURE_LIMIT = LIMIT
    settings.API_AUTH_FAILURE_WINDOW_MINUTES = WINDOW_MINUTES
    cache.clear()
    yield
    cache.clear()  # no lockout may outlive the test


@pytest.fixture
def pair(acme):
    return create_credential(acme.membership("engineer"), "tests")


def endpoint(acme) -> str:
    return reverse("api_community_rtm_token", kwargs={"project_id": acme.projects[0].project_id, "user_id": "alice"})


def basic(customer_id: str, secret: str, address: str = "127.0.0.1") -> dict:
    value = base64.b64encode(f"{customer_id}:{secret}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {value}", "REMOTE_ADDR": address}


def fail(client, acme, pair, times: int, address: str = "127.0.0.1") -> list[int]:
    wrong = basic(pair.credential.customer_id, "not-the-secret", address)
    return [client.get(endpoint(acme), **wrong).status_code for _ in range(times)]


def assert_locked(response):
    assert response.status_code == 429, response.content
    assert set(response.json()) == {"message"} and "failed authentications" in response.json()["message"]
    assert 0 < int(response["Retry-After"]) <= WINDOW_MINUTES * 60


def test_after_the_limit_every_basic_attempt_is_429_even_with_the_right_secret(acme, client, pair):
    assert fail(client, acme, pair, LIMIT) == [401] * LIMIT
    assert_locked(client.get(endpoint(acme), **basic(pair.credential.customer_id, "not-the-secret")))
    assert_locked(client.get(endpoint(acme), **basic(pair.credential.customer_id, pair.secret)))
    assert_locked(client.get(endpoint(acme), HTTP_AUTHORIZATION="Basic %%%"))  # malformed: refused the same


def test_another_address_is_not_affected(acme, client, pair):
    fail(client, acme, pair, LIMIT + 1)
    response = client.get(endpoint(acme), **basic(pair.credential.customer_id, pair.secret, "10.0.0.2"))
    assert response.status_code == 200
    assert client.get(endpoint(acme), **basic("0" * 32, "wrong", "10.0.0.2")).status_code == 401


def test_the_same_address_over_ipv6_is_counted_on_its_own(acme, client, pair):
    fail(client, acme, pair, LIMIT, address="2001:db8::1")
    assert_locked(client.get(endpoint(acme), **basic(pair.credential.customer_id, pair.secret, "2001:db8::1")))
    assert client.get(endpoint(acme), **basic(pair.credential.customer_id, pair.secret)).status_code == 200


def test_malformed_credentials_count_as_failures(acme, client, pair):
    statuses = [client.get(endpoint(acme), HTTP_AUTHORIZATION="Basic %%%").status_code for _ in range(LIMIT)]
    assert statuses == [401] * LIMIT
    assert_locked(client.get(endpoint(acme), **basic(pair.credential.customer_id, pair.secret)))


def test_successes_do_not_count(acme, client, pair):
    right = basic(pair.credential.customer_id, pair.secret)
    assert {client.get(endpoint(acme), **right).status_code for _ in range(3 * LIMIT)} == {200}
    assert fail(client, acme, pair, LIMIT - 1) == [401] * (LIMIT - 1)
    assert client.get(endpoint(acme), **right).status_code == 200
    fail(client, acme, pair, 1)
    assert_locked(client.get(endpoint(acme), **right))


def test_the_lockout_ends_when_the_window_has_passed(acme, client, pair, monkeypatch):
    right = basic(pair.credential.customer_id, pair.secret)
    fail(client, acme, pair, LIMIT)
    for _ in range(5):  # refused attempts neither count nor extend the lockout
        assert int(client.get(endpoint(acme), **right)["Retry-After"]) > WINDOW_MINUTES * 60 - 60
    later = time.time() + WINDOW_MINUTES * 60 + 1
    monkeypatch.setattr(time, "time", lambda: later)  # the cache's expiry reads the same clock
    assert client.get(endpoint(acme), **right).status_code == 200


def test_zero_turns_the_limit_off(acme, client, pair, settings):
    settings.API_AUTH_FAILURE_LIMIT = 0
    assert set(fail(client, acme, pair, 3 * LIMIT)) == {401}
    assert client.get(endpoint(acme), **basic(pair.credential.customer_id, pair.secret)).status_code == 200


def test_sessions_are_not_locked_out_by_failed_basic_attempts(acme, client, pair):
    fail(client, acme, pair, LIMIT)
    client.force_login(acme.users["engineer"])
    assert client.get(endpoint(acme)).status_code == 200
