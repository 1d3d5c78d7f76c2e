"""Tokens issued through the token API are audited (`token.issued`): an entry per request up to
audit.TOKEN_ENTRIES_PER_MINUTE per caller, project and minute, then counted in the cache and written as
one entry {"count", "minute"}, by the caller's next request in a later minute or by the beat task, whichever
comes first. Counts are never dropped: the entries' counts add up to the tokens issued."""

import base64
import json

import pytest
from celery.schedules import crontab
from django.conf import settings
from django.core.cache import cache

from accounts import audit, tasks
from accounts.api_credentials import create_credential
from accounts.models import AuditEntry, Membership, Role, User
from conftest import run_together
from projects import services as project_services
from projects.models import Certificate

ISSUED = "token.issued"
MINUTE = 29_000_000  # a whole minute since the epoch (2025-02-19 21:20 UTC)


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()  # counts left by other tests (whose ids a new database may reuse)


@pytest.fixture
def clock(monkeypatch):
    """The audit's clock, in seconds since the epoch; `clock.now = ...` moves it."""

    class Clock:
        now = MINUTE * 60 + 5.0

    monkeypatch.setattr(audit, "_now", lambda: Clock.now)
    monkeypatch.setattr(audit, "_swept_minute", None)  # what this process flushed in other tests' minutes
    monkeypatch.setattr(audit, "_listed_minutes", set())
    return Clock


@pytest.fixture
def few(monkeypatch):
    """Three entries per caller, project and minute, so that a burst is a few requests."""
    monkeypatch.setattr(audit, "TOKEN_ENTRIES_PER_MINUTE", 3)


def credential(membership) -> tuple[str, dict]:
    pair = create_credential(membership, "token server")
    value = base64.b64encode(f"{pair.credential.customer_id}:{pair.secret}".encode()).decode()
    return pair.credential.customer_id, {"HTTP_AUTHORIZATION": f"Basic {value}"}


def issue(client, headers, project_id, body=None, **extra):
    body = body or {"type": "rtc", "channel": "demo", "uid": 42, "role": "publisher", "expire": 600}
    return client.post(
        f"/api/v1/projects/{project_id}/tokens", json.dumps(body), content_type="application/json", **headers, **extra
    )


def entries(organization=None) -> list[AuditEntry]:
    found = AuditEntry.objects.filter(action=ISSUED).order_by("id")
    return list(found.filter(organization=organization) if organization is not None else found)


def total(found) -> int:
    """Tokens the entries stand for: an entry of its own is one token, an aggregated one says how many."""
    return sum(entry.details.get("count", 1) for entry in found)


def test_a_token_issued_through_the_api_writes_an_entry(acme, client):
    project = acme.projects[0]
    customer_id, headers = credential(acme.membership("engineer"))
    response = issue(client, headers, project.project_id, HTTP_USER_AGENT="token-server/2")
    assert response.status_code == 200
    token = response.json()["token"]

    [entry] = entries(acme.organization)
    assert entry.actor == acme.users["engineer"] and entry.actor_email == "engineer@acme.test"
    assert entry.target == project.project_id
    assert entry.ip_address == "127.0.0.1" and entry.user_agent == "token-server/2"
    assert entry.details == {
        "credential": customer_id,
        "kind": "rtc",
        "channel": "demo",
        "uid": 42,
        "role": "publisher",
        "expires_at": response.json()["expires_at"],
    }
    text = json.dumps(entry.details) + entry.target
    assert token not in text
    assert Certificate.objects.get(project=project, slot="primary").value not in text


def test_the_community_paths_write_entries_too(acme, client):
    project_id = acme.projects[0].project_id
    _, headers = credential(acme.membership("admin"))
    base = f"/api/v1/projects/{project_id}"
    assert client.get(f"{base}/rtc/demo/subscriber/userAccount/ann/", **headers).status_code == 200
    assert client.get(f"{base}/rtm/bob/?expiry=60", **headers).status_code == 200
    rtc, rtm = entries(acme.organization)
    assert (rtc.details["kind"], rtc.details["account"], rtc.details["channel"]) == ("rtc", "ann", "demo")
    assert (rtm.details["kind"], rtm.details["user_id"]) == ("rtm", "bob")


def test_a_member_signed_in_with_the_browser_is_named_as_a_session(acme, client):
    client.force_login(acme.users["engineer"])
    assert issue(client, {}, acme.projects[0].project_id).status_code == 200
    [entry] = entries(acme.organization)
    assert entry.actor == acme.users["engineer"] and entry.details["credential"] == "session"


def test_refused_requests_write_no_entry(acme, client):
    project = acme.projects[0]
    _, headers = credential(acme.membership("engineer"))
    assert issue(client, headers, project.project_id, {"type": "rtc"}).status_code == 400  # no channel
    project_services.set_enabled(acme.membership("admin"), project, False)
    assert issue(client, headers, project.project_id).status_code == 403
    _, finance = credential(acme.membership("finance"))
    assert issue(client, finance, acme.projects[1].project_id).status_code == 403
    assert entries() == []


def test_a_burst_is_counted_and_the_beat_task_writes_the_count(acme, client, clock, few):
    project_id = acme.projects[0].project_id
    customer_id, headers = credential(acme.membership("engineer"))
    for _ in range(10):
        assert issue(client, headers, project_id).status_code == 200
    assert len(entries()) == 3  # the first three of the minute; seven are counted

    clock.now += 60  # the credential is quiet from now on: only the task can write its count
    assert tasks.flush_token_counts() == 7
    found = entries(acme.organization)
    assert total(found) == 10
    aggregated = found[-1]
    assert aggregated.actor == acme.users["engineer"] and aggregated.target == project_id
    assert aggregated.details == {"credential": customer_id, "count": 7, "minute": "2025-02-19T21:20:00+00:00"}

    assert tasks.flush_token_counts() == 0  # idempotent: nothing is written twice
    assert total(entries()) == 10


def test_the_next_minutes_first_request_writes_the_previous_minutes_count(acme, client, clock, few):
    project_id = acme.projects[0].project_id
    _, headers = credential(acme.membership("engineer"))
    for _ in range(5):
        issue(client, headers, project_id)
    clock.now += 60
    issue(client, headers, project_id)
    found = entries()
    assert [entry.details.get("count") for entry in found] == [None, None, None, 2, None]
    assert total(found) == 6
    assert tasks.flush_token_counts() == 0


def test_counts_are_kept_apart_per_credential_project_and_minute(acme, client, clock, few):
    first_id, first = credential(acme.membership("engineer"))
    second_id, second = credential(acme.membership("engineer"))
    one, two = (project.project_id for project in acme.projects)
    for headers, project_id, times in ((first, one, 5), (first, two, 4), (second, one, 6)):
        for _ in range(times):
            assert issue(client, headers, project_id).status_code == 200
    clock.now += 30  # later in the same minute: still the same counts
    for _ in range(2):
        issue(client, first, one)
    clock.now += 60
    tasks.flush_token_counts()
    found = entries()
    by_pair: dict = {}
    for entry in found:
        key = (entry.details["credential"], entry.target)
        by_pair[key] = by_pair.get(key, 0) + entry.details.get("count", 1)
    assert by_pair == {(first_id, one): 7, (first_id, two): 4, (second_id, one): 6}
    assert len(found) == 3 + 3 + 3 + 3  # 9 of their own, and one count per pair with more than three


def test_a_count_written_while_the_minute_runs_is_completed_later(acme, client, clock, few):
    project_id = acme.projects[0].project_id
    _, headers = credential(acme.membership("engineer"))
    for _ in range(6):
        issue(client, headers, project_id)
    assert tasks.flush_token_counts() == 3  # beat runs in the middle of the minute
    for _ in range(4):
        issue(client, headers, project_id)
    clock.now += 60
    assert tasks.flush_token_counts() == 4
    assert total(entries()) == 10


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_and_flushes_never_lose_or_double_a_count(postgres, acme, clock, few):
    """Threads issue tokens while others flush (PostgreSQL: SQLite's test database locks whole tables); with
    REDIS_URL the counts are Redis's, as in production."""
    from django.test import Client

    project_id = acme.projects[0].project_id
    _, headers = credential(acme.membership("engineer"))

    def burst():
        client = Client()
        for _ in range(8):
            assert issue(client, headers, project_id).status_code == 200

    def flush():
        for _ in range(5):
            tasks.flush_token_counts()

    assert run_together(burst, burst, burst, flush, flush) == [None] * 5
    clock.now += 60
    tasks.flush_token_counts()
    assert total(entries()) == 24


def test_beat_runs_the_flush_every_minute():
    [entry] = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "accounts.tasks.flush_token_counts"]
    assert entry["schedule"] == crontab()  # every minute


def test_every_token_entry_names_its_project_so_scoped_readers_see_their_own(acme, client, clock, few):
    project = acme.projects[0]
    _, headers = credential(acme.membership("engineer"))
    for _ in range(5):  # three entries of their own, then a count of two
        assert issue(client, headers, project.project_id).status_code == 200
    assert tasks.flush_token_counts() == 2
    found = entries(acme.organization)
    assert [entry.details.get("count", 1) for entry in found] == [1, 1, 1, 2]
    assert {entry.project_id for entry in found} == {project.pk}
    role = Role.objects.create(
        organization=acme.organization, name="P1 audit", levels={"audit": "view"}, all_projects=False
    )
    role.projects.set([project])
    reader = Membership.objects.create(
        user=User.objects.create_user("p1@acme.test"), organization=acme.organization, role=role
    )
    assert audit.entries_for(acme.organization, reader).filter(action=ISSUED).count() == 4
    role.projects.set([acme.projects[1]])
    assert not audit.entries_for(acme.organization, reader).filter(action=ISSUED).exists()
