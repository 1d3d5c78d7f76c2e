"""Brute-force protection on /accounts/login/: 5 failures for one account or one IP within 15 minutes."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user
from django.test import Client
from django.utils import timezone

from accounts.models import AuditEntry
from conftest import PASSWORD

LOCKED = "Too many failed sign-in attempts"
LOGIN = "/accounts/login/"


def attempt(client, email, password, ip="10.0.0.1"):
    return client.post(LOGIN, {"username": email, "password": password}, REMOTE_ADDR=ip)


def signed_in(client) -> bool:
    return get_user(client).is_authenticated


def fail(client, email, times, ip="10.0.0.1"):
    for _ in range(times):
        response = attempt(client, email, "wrong-password", ip)
        assert response.status_code == 200
        assert LOCKED not in response.content.decode()
        assert not signed_in(client)


@pytest.fixture
def travel(monkeypatch):
    """Move the clock forward: `travel(minutes=16)`."""
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


def test_four_failures_still_allow_sign_in(acme):
    client = Client()
    fail(client, "admin@acme.test", 4)
    assert attempt(client, "admin@acme.test", PASSWORD).status_code == 302
    assert signed_in(client)


def test_sixth_attempt_with_the_right_password_is_refused_after_five_failures(acme):
    client = Client()
    fail(client, "admin@acme.test", 5)

    response = attempt(client, "admin@acme.test", PASSWORD)

    assert response.status_code == 200
    assert LOCKED in response.content.decode()
    assert not signed_in(client)
    assert not AuditEntry.objects.filter(action="auth.login").exists()


def test_account_lockout_holds_from_another_ip_address(acme):
    fail(Client(), "admin@acme.test", 5, ip="10.0.0.1")
    client = Client()
    response = attempt(client, "admin@acme.test", PASSWORD, ip="10.9.9.9")
    assert LOCKED in response.content.decode()
    assert not signed_in(client)


def test_account_lockout_does_not_block_other_accounts_from_other_addresses(acme):
    fail(Client(), "admin@acme.test", 5, ip="10.0.0.1")
    client = Client()
    assert attempt(client, "finance@acme.test", PASSWORD, ip="10.9.9.9").status_code == 302
    assert signed_in(client)


def test_five_failures_from_one_ip_block_a_different_email_from_that_ip(acme):
    emails = ["finance@acme.test", "engineer@acme.test", "nobody@acme.test", "ghost@example.com", "x@example.com"]
    for email in emails:
        fail(Client(), email, 1, ip="10.0.0.7")

    client = Client()
    response = attempt(client, "admin@acme.test", PASSWORD, ip="10.0.0.7")
    assert response.status_code == 200
    assert LOCKED in response.content.decode()
    assert not signed_in(client)

    # The same account from another address is not locked: none of its own attempts failed.
    other = Client()
    assert attempt(other, "admin@acme.test", PASSWORD, ip="10.0.0.8").status_code == 302
    assert signed_in(other)


def test_lockout_message_says_when_to_try_again(acme):
    client = Client()
    fail(client, "admin@acme.test", 5)
    content = attempt(client, "admin@acme.test", PASSWORD).content.decode()
    assert "try again in" in content
    assert "minutes" in content


def test_sign_in_works_again_after_the_window_passes(acme, travel):
    client = Client()
    fail(client, "admin@acme.test", 5)
    assert LOCKED in attempt(client, "admin@acme.test", PASSWORD).content.decode()

    travel(minutes=14)
    assert LOCKED in attempt(client, "admin@acme.test", PASSWORD).content.decode()
    assert not signed_in(client)

    travel(minutes=16)
    response = attempt(client, "admin@acme.test", PASSWORD)
    assert response.status_code == 302
    assert signed_in(client)


def test_refused_attempts_do_not_extend_the_window(acme, travel):
    client = Client()
    fail(client, "admin@acme.test", 5)
    travel(minutes=10)
    for _ in range(3):
        assert LOCKED in attempt(client, "admin@acme.test", "wrong-password").content.decode()
    travel(minutes=16)
    assert attempt(client, "admin@acme.test", PASSWORD).status_code == 302


def test_ip_lockout_ends_after_the_window(acme, travel):
    for n in range(5):
        fail(Client(), f"person{n}@example.com", 1, ip="10.0.0.7")
    assert LOCKED in attempt(Client(), "admin@acme.test", PASSWORD, ip="10.0.0.7").content.decode()
    travel(minutes=16)
    client = Client()
    assert attempt(client, "admin@acme.test", PASSWORD, ip="10.0.0.7").status_code == 302
    assert signed_in(client)


def test_shorter_window_from_settings(acme, settings, travel):
    settings.LOGIN_FAILURE_WINDOW = timedelta(minutes=1)
    client = Client()
    fail(client, "admin@acme.test", 5)
    assert LOCKED in attempt(client, "admin@acme.test", PASSWORD).content.decode()
    travel(minutes=2)
    assert attempt(client, "admin@acme.test", PASSWORD).status_code == 302


def test_limit_comes_from_settings(acme, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    client = Client()
    fail(client, "admin@acme.test", 2)
    assert LOCKED in attempt(client, "admin@acme.test", PASSWORD).content.decode()


def test_failures_and_lockouts_are_audited(acme):
    client = Client()
    fail(client, "admin@acme.test", 5)
    attempt(client, "admin@acme.test", PASSWORD)
    attempt(client, "admin@acme.test", "wrong-password")

    failed = AuditEntry.objects.filter(action="auth.login_failed")
    assert failed.count() == 5
    assert set(failed.values_list("target", flat=True)) == {"admin@acme.test"}
    assert set(failed.values_list("ip_address", flat=True)) == {"10.0.0.1"}
    lockouts = AuditEntry.objects.filter(action="auth.lockout")
    assert lockouts.count() == 2
    assert set(lockouts.values_list("target", flat=True)) == {"admin@acme.test"}
    assert set(lockouts.values_list("ip_address", flat=True)) == {"10.0.0.1"}
    assert not AuditEntry.objects.filter(action="auth.login").exists()


def test_sign_in_events_show_in_the_members_organization_audit_log(acme, client_for):
    client = Client()
    fail(client, "finance@acme.test", 5)
    attempt(client, "finance@acme.test", PASSWORD)
    page = client_for(acme.users["admin"]).get("/audit/?actor=&action=auth.lockout")
    assert page.status_code == 200
    assert "finance@acme.test" in page.content.decode()
    assert "auth.lockout" in page.content.decode()
