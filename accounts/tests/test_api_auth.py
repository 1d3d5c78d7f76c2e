"""HTTP Basic authentication with a Customer ID and Customer Secret, through a real endpoint of the native
API (the community RTM token path, GET) and once over real HTTP against the live server."""

import base64

import pytest
import requests
from django.core.cache import cache
from django.urls import reverse

from accounts import api_credentials
from accounts.api_auth import basic_credentials
from accounts.api_credentials import create_credential, delete_credential
from accounts.models import ApiCredential, AuditEntry
from accounts.services import remove_member


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()  # cached pairs, failure-log windows and use counters must not leak between tests


def endpoint(org) -> str:
    """GET issues an RTM token; needs tokens: generate (Admin, Engineer)."""
    return reverse("api_community_rtm_token", kwargs={"project_id": org.projects[0].project_id, "user_id": "alice"})


def basic(customer_id: str, secret: str, scheme: str = "Basic") -> dict:
    value = base64.b64encode(f"{customer_id}:{secret}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"{scheme} {value}"}


def raw(header: str) -> dict:
    return {"HTTP_AUTHORIZATION": header}


@pytest.fixture
def pair(acme):
    return create_credential(acme.membership("engineer"), "tests")


def failures() -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action="api.auth_failed").order_by("id"))


def assert_401(response):
    assert response.status_code == 401, response.content
    assert isinstance(response.json()["message"], str) and response.json()["message"]
    assert response["WWW-Authenticate"].startswith("Basic")


# Parsing the header -----------------------------------------------------------------------------


def test_basic_credentials_parses_the_header():
    encoded = base64.b64encode(b"abc:s3cr:et").decode()
    assert basic_credentials(f"Basic {encoded}") == ("abc", "s3cr:et")  # only the first colon separates
    assert basic_credentials(f"bAsIc   {encoded} ") == ("abc", "s3cr:et")
    assert basic_credentials("Bearer xyz") is None
    assert basic_credentials("") is None
    for bad in (
        "Basic !!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b":x").decode(),
    ):
        with pytest.raises(ValueError):
            basic_credentials(bad)


# Through an endpoint ----------------------------------------------------------------------------


def test_a_good_pair_works(acme, client, pair):
    response = client.get(endpoint(acme), **basic(pair.credential.customer_id, pair.secret))
    assert response.status_code == 200, response.content
    assert response.json()["rtmToken"].startswith("007")
    assert not failures()


@pytest.mark.parametrize("scheme", ["basic", "BASIC", "bAsIc"])
def test_the_scheme_word_is_case_insensitive(acme, client, pair, scheme):
    response = client.get(endpoint(acme), **basic(pair.credential.customer_id, pair.secret, scheme))
    assert response.status_code == 200


def test_the_pair_acts_with_its_members_role(acme, client):
    """A Finance member's pair authenticates, but Finance may not issue tokens: 403, not 401."""
    finance = create_credential(acme.membership("finance"))
    response = client.get(endpoint(acme), **basic(finance.credential.customer_id, finance.secret))
    assert response.status_code == 403 and "message" in response.json()


def test_another_organizations_project_is_404(acme, globex, client):
    theirs = create_credential(globex.membership("engineer"))
    response = client.get(endpoint(acme), **basic(theirs.credential.customer_id, theirs.secret))
    assert response.status_code == 404


@pytest.mark.parametrize(
    "header",
    [
        "wrong secret",
        "unknown id",
        "Basic not-base64!",
        "Basic " + base64.b64encode(b"missing-colon").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),  # not UTF-8
        "Basic ",
    ],
)
def test_bad_credentials_get_401_with_a_message(acme, client, pair, header):
    if header == "wrong secret":
        headers = basic(pair.credential.customer_id, pair.secret + "x")
    elif header == "unknown id":
        headers = basic("0" * 32, pair.secret)
    else:
        headers = raw(header)
    response = client.get(endpoint(acme), **headers)
    assert_401(response)
    assert pair.secret not in response.content.decode()
    assert len(failures()) == 1


def test_no_credentials_at_all_get_401(acme, client):
    assert_401(client.get(endpoint(acme)))
    assert_401(client.get(endpoint(acme), **raw("Bearer something")))


def test_a_failure_is_audited_once_a_minute_per_caller_and_customer_id(acme, client, pair):
    customer_id = pair.credential.customer_id
    wrong = basic(customer_id, "not-the-secret")
    for _ in range(3):
        assert_401(client.get(endpoint(acme), **wrong))
    logged = failures()
    assert len(logged) == 1
    entry = logged[0]
    assert entry.target == customer_id
    assert entry.organization == acme.organization  # a known Customer ID: in that organization's log
    assert entry.ip_address == "127.0.0.1"
    assert "not-the-secret" not in str(entry.details)
    # Another Customer ID, or another caller, is a new entry; the first pair's window still holds.
    assert_401(client.get(endpoint(acme), **basic("1" * 32, "x")))
    assert_401(client.get(endpoint(acme), REMOTE_ADDR="10.0.0.9", **wrong))
    assert_401(client.get(endpoint(acme), **wrong))
    assert [(e.target, e.ip_address) for e in failures()[1:]] == [("1" * 32, "127.0.0.1"), (customer_id, "10.0.0.9")]
    assert failures()[1].organization is None  # an unknown id belongs to no organization


def test_malformed_headers_share_one_window_per_caller(acme, client):
    for junk in ("Basic %%%", "Basic " + base64.b64encode(b"a" * 500 + b":x").decode(), "Basic " + "x" * 9):
        assert_401(client.get(endpoint(acme), **raw(junk)))
    assert len(failures()) == 1


def test_uses_are_counted_and_written_at_most_once_a_minute(acme, client, pair):
    credential = pair.credential
    headers = basic(credential.customer_id, pair.secret)
    assert credential.use_count == 0 and credential.last_used_at is None
    for _ in range(3):
        assert client.get(endpoint(acme), **headers).status_code == 200
    credential.refresh_from_db()
    assert credential.use_count == 1 and credential.last_used_at is not None  # the first use is written at once
    first_written = credential.last_used_at
    # A minute later (the flush window ends): the next use writes the two counted meanwhile, and itself.
    api_credentials.forget_recent_writes()
    assert client.get(endpoint(acme), **headers).status_code == 200
    credential.refresh_from_db()
    assert credential.use_count == 4 and credential.last_used_at >= first_written


def test_failed_calls_are_not_counted_as_uses(acme, client, pair):
    client.get(endpoint(acme), **basic(pair.credential.customer_id, "wrong"))
    pair.credential.refresh_from_db()
    assert pair.credential.use_count == 0 and pair.credential.last_used_at is None


# Revocation takes effect at once (committed, as in production: the cache is retired on commit) ------


@pytest.mark.django_db(transaction=True)
def test_a_deleted_pair_stops_working_at_once(acme, client):
    new = create_credential(acme.membership("engineer"))
    headers = basic(new.credential.customer_id, new.secret)
    assert client.get(endpoint(acme), **headers).status_code == 200  # the pair is now cached
    delete_credential(acme.membership("admin"), new.credential)
    assert_401(client.get(endpoint(acme), **headers))


@pytest.mark.django_db(transaction=True)
def test_a_removed_members_pair_stops_working_at_once(acme, client):
    new = create_credential(acme.membership("engineer"))
    headers = basic(new.credential.customer_id, new.secret)
    assert client.get(endpoint(acme), **headers).status_code == 200
    remove_member(acme.membership("admin"), acme.membership("engineer"))
    assert not ApiCredential.objects.filter(pk=new.credential.pk).exists()  # the pair went with the membership
    assert_401(client.get(endpoint(acme), **headers))


@pytest.mark.django_db(transaction=True)
def test_a_deactivated_users_pair_stops_working_at_once(acme, client):
    new = create_credential(acme.membership("engineer"))
    headers = basic(new.credential.customer_id, new.secret)
    assert client.get(endpoint(acme), **headers).status_code == 200
    engineer = acme.users["engineer"]
    engineer.is_active = False
    engineer.save()
    assert_401(client.get(endpoint(acme), **headers))
    engineer.is_active = True
    engineer.save()
    assert client.get(endpoint(acme), **headers).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_lowered_role_narrows_the_pair_at_once(acme, client):
    new = create_credential(acme.membership("engineer"))
    headers = basic(new.credential.customer_id, new.secret)
    assert client.get(endpoint(acme), **headers).status_code == 200
    membership = acme.membership("engineer")
    membership.role = acme.roles["finance"]
    membership.save()
    assert client.get(endpoint(acme), **headers).status_code == 403


# Over real HTTP ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_basic_auth_over_http_against_the_live_server(acme, live_server):
    new = api_credentials.create_credential(acme.membership("engineer"), "live")
    url = live_server.url + endpoint(acme)
    good = requests.get(url, auth=(new.credential.customer_id, new.secret), timeout=10)
    assert good.status_code == 200 and good.json()["rtmToken"].startswith("007")
    assert good.headers["X-Request-ID"]
    wrong = requests.get(url, auth=(new.credential.customer_id, "wrong"), timeout=10)
    assert wrong.status_code == 401 and wrong.json()["message"]
    assert wrong.headers["WWW-Authenticate"].startswith("Basic")
    lower = requests.get(
        url,
        headers={
            "Authorization": "basic " + base64.b64encode(f"{new.credential.customer_id}:{new.secret}".encode()).decode()
        },
        timeout=10,
    )
    assert lower.status_code == 200
    used = ApiCredential.objects.get(pk=new.credential.pk)
    assert used.use_count == 1 and used.last_used_at is not None  # written at the first use, then once a minute
