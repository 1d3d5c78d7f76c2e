"""Brute-force protection on allauth's sign-in form (/accounts/login/): LOGIN_FAILURE_LIMIT failures for one
account or one address within LOGIN_FAILURE_WINDOW refuse further attempts until the window has passed."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user
from django.test import Client
from django.utils import timezone

from accounts.models import AuditEntry
from conftest import PASSWORD

LOCKED = "Too many failed sign-in attempts"
LOGIN = "/accounts/login/"
LIMIT = 5
WINDOW = timedelta(minutes=15)


@pytest.fixture(autouse=True)
def _lockout_settings(settings):
    """The numbers this module counts with, whatever the environment sets."""
    settings.LOGIN_FAILURE_LIMIT = LIMIT
    settings.LOGIN_FAILURE_WINDOW = WINDOW


def attempt(client, email, password, ip="10.0.0.1"):
    return client.post(LOGIN, {"login": email, "password": password}, REMOTE_ADDR=ip)


def signed_in(client) -> bool:
    return get_user(client).is_authenticated


def refused(response) -> bool:
    """Refused by the lockout: the form again, with its message, and no session."""
    return response.status_code == 200 and LOCKED in response.content.decode()


def fail(client, email, times, ip="10.0.0.1"):
    """`times` wrong passwords, each one answered as a wrong password (not yet as a lockout)."""
    for _ in range(times):
        response = attempt(client, email, "wrong-password", ip)
        assert response.status_code == 200
        assert response.context["form"].errors
        assert LOCKED not in response.content.decode()
        assert not signed_in(client)


@pytest.fixture
def travel(monkeypatch):
    """Move the clock forward: `travel(minutes=16)`. Audit entries and the lockout both read timezone.now."""
    real_now = timezone.now

    def move(**delta):
        monkeypatch.setattr(timezone, "now", lambda: real_now() + timedelta(**delta))

    return move


def test_right_password_signs_in_and_is_audited(acme):
    client = Client()
    response = attempt(client, "admin@acme.test", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/overview/"
    assert get_user(client) == acme.users["admin"]
    entry = AuditEntry.objects.get(action="auth.login")
    assert entry.actor == acme.users["admin"]
    assert entry.target == "admin@acme.test"
    assert entry.ip_address == "10.0.0.1"


def test_wrong_password_is_refused_and_audited(acme):
    client = Client()
    response = attempt(client, "Admin@Acme.test", "wrong-password")
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not signed_in(client)
    entry = AuditEntry.objects.get(action="auth.login_failed")
    assert entry.target == "admin@acme.test"
    assert entry.actor is None
    assert entry.ip_address == "10.0.0.1"
    assert not AuditEntry.objects.filter(action="auth.login").exists()


def test_one_failure_short_of_the_limit_still_allows_sign_in(acme):
    client = Client()
    fail(client, "admin@acme.test", LIMIT - 1)
    assert attempt(client, "admin@acme.test", PASSWORD).status_code == 302
    assert signed_in(client)


def test_the_right_password_is_refused_after_the_limit(acme):
    client = Client()
    fail(client, "admin@acme.test", LIMIT)

    response = attempt(client, "admin@acme.test", PASSWORD)

    assert refused(response)
    assert not signed_in(client)
    assert not AuditEntry.objects.filter(action="auth.login").exists()


def test_the_lockout_ignores_the_case_of_the_address(acme):
    fail(Client(), "ADMIN@acme.test", LIMIT, ip="10.0.0.1")
    client = Client()
    assert refused(attempt(client, "admin@ACME.TEST", PASSWORD, ip="10.9.9.9"))
    assert not signed_in(client)


def test_account_lockout_holds_from_another_ip_address(acme):
    fail(Client(), "admin@acme.test", LIMIT, ip="10.0.0.1")
    client = Client()
    assert refused(attempt(client, "admin@acme.test", PASSWORD, ip="10.9.9.9"))
    assert not signed_in(client)


def test_account_lockout_does_not_block_other_accounts_from_other_addresses(acme):
    fail(Client(), "admin@acme.test", LIMIT, ip="10.0.0.1")
    client = Client()
    assert attempt(client, "finance@acme.test", PASSWORD, ip="10.9.9.9").status_code == 302
    assert signed_in(client)


def test_failures_from_one_ip_block_a_different_email_from_that_ip(acme):
    emails = ["finance@acme.test", "engineer@acme.test", "nobody@acme.test", "ghost@example.com", "x@example.com"]
    assert len(emails) == LIMIT  # one failure each: only the address limit can bite
    for email in emails:
        fail(Client(), email, 1, ip="10.0.0.7")

    client = Client()
    assert refused(attempt(client, "admin@acme.test", PASSWORD, ip="10.0.0.7"))
    assert not signed_in(client)

    # The same account from another address is not locked: none of its own attempts failed.
    other = Client()
    assert attempt(other, "admin@acme.test", PASSWORD, ip="10.0.0.8").status_code == 302
    assert signed_in(other)


def test_lockout_message_says_when_to_try_again(acme):
    client = Client()
    fail(client, "admin@acme.test", LIMIT)
    content = attempt(client, "admin@acme.test", PASSWORD).content.decode()
    assert "try again in 14\xa0minutes" in content or "try again in 15\xa0minutes" in content, content
    assert "reset your password" in content


def test_the_message_counts_down_with_the_window(acme, travel):
    client = Client()
    fail(client, "admin@acme.test", LIMIT)
    travel(minutes=10, seconds=30)
    content = attempt(client, "admin@acme.test", PASSWORD).content.decode()
    assert "try again in 4\xa0minutes" in content, content


def test_sign_in_works_again_after_the_window_passes(acme, travel):
    client = Client()
    fail(client, "admin@acme.test", LIMIT)
    assert refused(attempt(client, "admin@acme.test", PASSWORD))

    travel(minutes=14)
    assert refused(attempt(client, "admin@acme.test", PASSWORD))
    assert not signed_in(client)

    travel(minutes=16)
    response = attempt(client, "admin@acme.test", PASSWORD)
    assert response.status_code == 302
    assert signed_in(client)


def test_refused_attempts_do_not_extend_the_window(acme, travel):
    client = Client()
    fail(client, "admin@acme.test", LIMIT)
    travel(minutes=10)
    for _ in range(3):
        assert refused(attempt(client, "admin@acme.test", "wrong-password"))
    # Refused without checking the password: no failure was recorded, so the window still ends at 15 minutes.
    assert AuditEntry.objects.filter(action="auth.login_failed").count() == LIMIT
    travel(minutes=16)
    assert attempt(client, "admin@acme.test", PASSWORD).status_code == 302
    assert signed_in(client)


def test_the_window_slides_with_the_oldest_failure(acme, travel):
    """Sign-in opens when the oldest of the last LIMIT failures leaves the window, not when the newest does."""
    client = Client()
    fail(client, "admin@acme.test", 1)
    travel(minutes=10)
    fail(client, "admin@acme.test", LIMIT - 1)
    assert refused(attempt(client, "admin@acme.test", PASSWORD))
    travel(minutes=16)  # the first failure has left the window; the other four are six minutes old
    assert attempt(client, "admin@acme.test", PASSWORD).status_code == 302


def test_ip_lockout_ends_after_the_window(acme, travel):
    for n in range(LIMIT):
        fail(Client(), f"person{n}@example.com", 1, ip="10.0.0.7")
    assert refused(attempt(Client(), "admin@acme.test", PASSWORD, ip="10.0.0.7"))
    travel(minutes=16)
    client = Client()
    assert attempt(client, "admin@acme.test", PASSWORD, ip="10.0.0.7").status_code == 302
    assert signed_in(client)


def test_shorter_window_from_settings(acme, settings, travel):
    settings.LOGIN_FAILURE_WINDOW = timedelta(minutes=1)
    client = Client()
    fail(client, "admin@acme.test", LIMIT)
    assert refused(attempt(client, "admin@acme.test", PASSWORD))
    travel(minutes=2)
    assert attempt(client, "admin@acme.test", PASSWORD).status_code == 302


def test_limit_comes_from_settings(acme, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    client = Client()
    fail(client, "admin@acme.test", 2)
    assert refused(attempt(client, "admin@acme.test", PASSWORD))
    assert not signed_in(client)


@pytest.mark.parametrize("limit", [8, 12])
def test_allauths_own_failure_limit_does_not_replace_the_consoles(acme, settings, limit):
    """allauth alone would refuse after 5 failures for one email (and 10 a minute from one address); the
    console's limit is the one that counts, in both directions."""
    settings.LOGIN_FAILURE_LIMIT = limit
    fail(Client(), "admin@acme.test", limit - 1)
    client = Client()
    assert attempt(client, "admin@acme.test", PASSWORD).status_code == 302
    assert signed_in(client)

    fail(Client(), "admin@acme.test", 1)  # the limit-th failure: the success in between reset nothing
    assert refused(attempt(Client(), "admin@acme.test", PASSWORD))


def test_failures_and_lockouts_are_audited(acme):
    client = Client()
    fail(client, "admin@acme.test", LIMIT)
    attempt(client, "admin@acme.test", PASSWORD)
    attempt(client, "admin@acme.test", "wrong-password")

    failed = AuditEntry.objects.filter(action="auth.login_failed")
    assert failed.count() == LIMIT
    assert set(failed.values_list("target", flat=True)) == {"admin@acme.test"}
    assert set(failed.values_list("ip_address", flat=True)) == {"10.0.0.1"}
    lockouts = AuditEntry.objects.filter(action="auth.lockout")
    assert lockouts.count() == 2
    assert set(lockouts.values_list("target", flat=True)) == {"admin@acme.test"}
    assert set(lockouts.values_list("ip_address", flat=True)) == {"10.0.0.1"}
    assert not AuditEntry.objects.filter(action="auth.login").exists()


def test_sign_in_events_show_in_the_members_organization_audit_log(acme, client_for):
    client = Client()
    fail(client, "finance@acme.test", LIMIT)
    attempt(client, "finance@acme.test", PASSWORD)
    page = client_for(acme.users["admin"]).get("/audit/?actor=&action=auth.lockout")
    assert page.status_code == 200
    assert "finance@acme.test" in page.content.decode()
    assert "auth.lockout" in page.content.decode()
