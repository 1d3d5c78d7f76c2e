"""Every door into a session keeps the sign-in lockout: allauth's password form, the Django admin's sign-in
page (which sends everyone to the console's), re-authentication, and allauth's login step itself (the email
link, the second factor); and the client address the lockout counts by, behind trusted proxies or not."""

import re
import time

import pytest
from allauth.account.internal.stagekit import LOGIN_SESSION_KEY
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.contrib.auth import get_user
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore
from django.core import mail
from django.test import Client, RequestFactory

from accounts.adapters import AccountAdapter
from accounts.audit import client_ip
from accounts.models import AuditEntry, User
from conftest import PASSWORD

LOGIN = "/accounts/login/"
REAUTHENTICATE = "/accounts/reauthenticate/"
AUTHENTICATE = "/accounts/2fa/authenticate/"  # the second factor's step
LOCKED = "Too many failed sign-in attempts"
LIMIT = 5


@pytest.fixture(autouse=True)
def _lockout_settings(settings):
    settings.LOGIN_FAILURE_LIMIT = LIMIT


def post_login(client, email, password, url=LOGIN, **headers):
    return client.post(url, {"login": email, "password": password}, **headers)


def fail(email, times, ip="10.0.0.7", **headers):
    """`times` wrong passwords at /accounts/login/ from a client of its own (an attacker's)."""
    attacker = Client()
    for _ in range(times):
        response = post_login(attacker, email, "wrong-password", REMOTE_ADDR=ip, **headers)
        assert response.status_code == 200 and LOCKED not in response.content.decode()


def locked_out(response) -> bool:
    return response.status_code == 200 and LOCKED in response.content.decode()


def signed_in(client) -> bool:
    return get_user(client).is_authenticated


def reauthenticate(client, password):
    return client.post(REAUTHENTICATE, {"password": password}, REMOTE_ADDR="10.0.0.1")


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("root@console.test", PASSWORD)


@pytest.fixture
def member(acme):
    """The Acme admin, signed in through the password form on a client of their own."""
    client = Client()
    assert post_login(client, "admin@acme.test", PASSWORD, REMOTE_ADDR="10.0.0.1").status_code == 302
    return client


# The Django admin's door ------------------------------------------------------------------------------


def test_the_admin_sign_in_page_is_the_consoles(superuser):
    client = Client()
    response = client.get("/admin/login/?next=/admin/billing/")
    assert response.status_code == 302 and response["Location"] == f"{LOGIN}?next=%2Fadmin%2Fbilling%2F"
    # Signing in there with the admin's next address lands in the admin.
    response = post_login(client, superuser.email, PASSWORD, url=response["Location"])
    assert response.status_code == 302 and response["Location"] == "/admin/billing/"
    assert client.get("/admin/").status_code == 200


def test_a_locked_out_staff_account_cannot_sign_in_through_the_admin(superuser):
    fail(superuser.email, LIMIT)
    client = Client()
    # The right password posted to the admin's own page: no form is checked there, it sends to the console's.
    response = client.post("/admin/login/?next=/admin/", {"username": superuser.email, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == f"{LOGIN}?next=%2Fadmin%2F"
    assert not signed_in(client)
    # And there, from an address that never failed, the right password is refused.
    response = post_login(client, superuser.email, PASSWORD, url=response["Location"], REMOTE_ADDR="10.0.0.8")
    assert locked_out(response) and not signed_in(client)
    assert client.get("/admin/").status_code == 302


def test_a_member_without_staff_rights_is_told_not_looped(acme, client_for):
    client = client_for(acme.users["admin"])
    assert client.get("/admin/").status_code == 302  # the admin sends non-staff to its sign-in page...
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 403  # ...which says so instead of sending them round again
    assert "cannot open the site administration" in response.content.decode()


def test_only_a_local_next_address_is_kept(acme):
    response = Client().get("/admin/login/?next=https://evil.example/")
    assert response["Location"] == f"{LOGIN}?next=%2Fadmin%2F"
    client = Client()
    response = post_login(client, "admin@acme.test", PASSWORD, url=f"{LOGIN}?next=https://evil.example/")
    assert response.status_code == 302 and response["Location"] == "/overview/"
    assert signed_in(client)


# Re-authentication ------------------------------------------------------------------------------------


def test_reauthentication_is_refused_while_the_account_is_locked(member):
    assert member.get(REAUTHENTICATE).status_code == 200
    fail("admin@acme.test", LIMIT)

    response = reauthenticate(member, PASSWORD)

    assert locked_out(response)
    assert AuditEntry.objects.filter(action="auth.lockout", target="admin@acme.test").exists()


def test_the_right_password_reauthenticates_when_not_locked(member):
    fail("admin@acme.test", LIMIT - 1)
    response = reauthenticate(member, PASSWORD)
    assert response.status_code == 302


def test_wrong_passwords_when_reauthenticating_count_toward_the_lockout(member):
    for _ in range(LIMIT):
        response = reauthenticate(member, "wrong-password")
        assert response.status_code == 200 and response.context["form"].errors
        assert LOCKED not in response.content.decode()
    failed = AuditEntry.objects.filter(action="auth.login_failed", target="admin@acme.test")
    assert failed.count() == LIMIT

    assert locked_out(reauthenticate(member, PASSWORD))
    # The account is locked at the sign-in form too, from an address that never failed.
    client = Client()
    assert locked_out(post_login(client, "admin@acme.test", PASSWORD, REMOTE_ADDR="10.0.0.9"))
    assert not signed_in(client)


def test_failures_at_both_doors_add_up(member):
    fail("admin@acme.test", LIMIT - 1)
    assert reauthenticate(member, "wrong-password").status_code == 200
    assert locked_out(post_login(Client(), "admin@acme.test", PASSWORD, REMOTE_ADDR="10.0.0.9"))


@pytest.mark.parametrize("door", ["sign-in", "re-authentication"])
def test_a_success_does_not_reset_the_count(member, door):
    fail("admin@acme.test", LIMIT - 1)
    if door == "sign-in":
        assert post_login(Client(), "admin@acme.test", PASSWORD, REMOTE_ADDR="10.0.0.2").status_code == 302
    else:
        assert reauthenticate(member, PASSWORD).status_code == 302

    fail("admin@acme.test", 1)

    client = Client()
    assert locked_out(post_login(client, "admin@acme.test", PASSWORD, REMOTE_ADDR="10.0.0.9"))
    assert not signed_in(client)


# allauth's login step: every door ends in AccountAdapter.pre_login --------------------------------------


def adapter_request():
    """A request as allauth's login step sees it: a session and messages, nobody signed in yet."""
    request = RequestFactory().post("/", REMOTE_ADDR="10.0.0.1")
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    request.user = get_user(request)
    return request


def pre_login(request, user):
    return AccountAdapter(request).pre_login(
        request, user, email_verification="mandatory", signal_kwargs=None, email=None, signup=False, redirect_url=None
    )


def test_the_login_step_refuses_a_locked_out_account(acme):
    user = acme.users["admin"]
    fail(user.email, LIMIT)
    request = adapter_request()
    request.session[LOGIN_SESSION_KEY] = {"stashed": "a login waiting for its next stage"}

    response = pre_login(request, user)

    assert response is not None and response.status_code == 302 and response["Location"] == LOGIN
    assert any(LOCKED in str(message) for message in get_messages(request))
    assert LOGIN_SESSION_KEY not in request.session  # nothing left to resume the login from
    assert not get_user(request).is_authenticated
    assert AuditEntry.objects.filter(action="auth.lockout", target=user.email).exists()


def test_the_login_step_lets_an_account_in_when_not_locked(acme):
    fail(acme.users["admin"].email, LIMIT - 1)
    assert pre_login(adapter_request(), acme.users["admin"]) is None


def sign_up(client, email):
    data = {
        "name": "New Person",
        "email": email,
        "organization": "Newco",
        "password1": PASSWORD,
        "password2": PASSWORD,
    }
    response = client.post("/accounts/signup/", data, REMOTE_ADDR="10.0.0.1")
    assert response.status_code == 302, response.content.decode()[:2000]
    assert not signed_in(client)  # the address must be verified first


def confirmation_link(email) -> str:
    (message,) = [message for message in mail.outbox if email in message.to]
    return re.search(r"/accounts/confirm-email/[^/\s]+/", message.body).group(0)


def test_the_email_link_signs_in_when_not_locked(db, settings):
    settings.ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
    client = Client()
    sign_up(client, "new@newco.test")
    response = client.post(confirmation_link("new@newco.test"), REMOTE_ADDR="10.0.0.1")
    assert response.status_code == 302
    assert signed_in(client)


def test_the_email_link_does_not_sign_in_a_locked_out_account(db, settings):
    settings.ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
    client = Client()
    sign_up(client, "new@newco.test")
    fail("new@newco.test", LIMIT, ip="10.0.0.66")

    response = client.post(confirmation_link("new@newco.test"), REMOTE_ADDR="10.0.0.1")

    assert response.status_code == 302 and response["Location"] == LOGIN
    assert not signed_in(client)
    assert not AuditEntry.objects.filter(action="auth.login").exists()


# The second factor, asked for after the password ----------------------------------------------------


def current_code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // mfa_settings.TOTP_PERIOD))


@pytest.fixture
def code_pending(acme, settings):
    """(client, secret): the engineer, who has an authenticator app, past the password and asked for a code.
    One window either side is accepted so that a code typed at a window's edge still counts."""
    settings.MFA_TOTP_TOLERANCE = 1
    user = acme.users["engineer"]
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    client = Client()
    response = post_login(client, user.email, PASSWORD, REMOTE_ADDR="10.0.0.1")
    assert response.status_code == 302 and response["Location"] == AUTHENTICATE
    return client, secret


def test_the_second_factor_signs_in_when_not_locked(code_pending):
    client, secret = code_pending
    response = client.post(AUTHENTICATE, {"code": current_code(secret)}, REMOTE_ADDR="10.0.0.1")
    assert response.status_code == 302 and signed_in(client)


def test_the_second_factor_does_not_sign_in_an_account_locked_after_its_password(code_pending):
    client, secret = code_pending
    fail("engineer@acme.test", LIMIT, ip="10.0.0.66")

    response = client.post(AUTHENTICATE, {"code": current_code(secret)}, REMOTE_ADDR="10.0.0.1")

    assert response.status_code == 302 and response["Location"] == LOGIN
    assert not signed_in(client)


# The client address, behind trusted proxies or not ------------------------------------------------------


def request_from(remote: str, forwarded: str | None = None):
    headers = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **headers)


@pytest.mark.parametrize(
    ("trusted", "forwarded", "expected"),
    [
        (0, "203.0.113.9", "10.0.0.1"),  # no trusted proxy: the header is the client's word, ignored
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # what the client wrote before the proxy's entry
        (2, "6.6.6.6, 203.0.113.9, 10.1.1.1", "203.0.113.9"),
        (2, "203.0.113.9", "10.0.0.1"),  # fewer hops than proxies: not through them
        (1, "not-an-address", "10.0.0.1"),
        (1, "", "10.0.0.1"),
        (1, None, "10.0.0.1"),
        (1, " 2001:db8::1 ", "2001:db8::1"),
    ],
)
def test_the_client_address_behind_trusted_proxies(settings, trusted, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = trusted
    assert client_ip(request_from("10.0.0.1", forwarded)) == expected


PROXY = {"REMOTE_ADDR": "10.0.0.1"}


def via_proxy(forwarded: str) -> dict:
    return {**PROXY, "HTTP_X_FORWARDED_FOR": forwarded}


def test_behind_a_proxy_one_clients_failures_do_not_lock_out_the_others(acme, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    attacker = Client()
    for number in range(LIMIT):  # as many accounts, so only the address limit can bite
        post_login(attacker, f"nobody{number}@acme.test", "x", **via_proxy("198.51.100.66"))
    failures = AuditEntry.objects.filter(action="auth.login_failed")
    assert set(failures.values_list("ip_address", flat=True)) == {"198.51.100.66"}  # the client's, not the proxy's

    response = post_login(attacker, "admin@acme.test", PASSWORD, **via_proxy("198.51.100.66"))
    assert locked_out(response) and not signed_in(attacker)
    other = Client()
    response = post_login(other, "admin@acme.test", PASSWORD, **via_proxy("203.0.113.5"))
    assert response.status_code == 302 and signed_in(other)
    # The attacker cannot pose as the other client: what it writes first in the header is ignored.
    spoofed = "203.0.113.5, 198.51.100.66"
    response = post_login(attacker, "admin@acme.test", PASSWORD, **via_proxy(spoofed))
    assert locked_out(response) and not signed_in(attacker)


def test_without_trusted_proxies_a_forged_header_does_not_escape_the_address_lockout(acme, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    attacker = {"REMOTE_ADDR": "198.51.100.66"}
    for number in range(LIMIT):  # a new forged address each time, and as many accounts
        post_login(Client(), f"nobody{number}@acme.test", "x", HTTP_X_FORWARDED_FOR=f"203.0.113.{number}", **attacker)
    failures = AuditEntry.objects.filter(action="auth.login_failed")
    assert set(failures.values_list("ip_address", flat=True)) == {"198.51.100.66"}

    client = Client()
    response = post_login(client, "admin@acme.test", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.50", **attacker)
    assert locked_out(response) and not signed_in(client)
    # Another connection's address is not locked, whatever header it sends.
    other = Client()
    response = post_login(other, "admin@acme.test", PASSWORD, REMOTE_ADDR="192.0.2.10")
    assert response.status_code == 302 and signed_in(other)
