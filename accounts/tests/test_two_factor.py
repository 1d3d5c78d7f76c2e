"""Two-factor authentication with an authenticator app (TOTP) and recovery codes, through the test client.

Codes are computed by this module's own RFC 6238 function (checked against the RFC's reference values),
never by allauth's, so the tests check allauth against the standard. The browser story is in
test_two_factor_browser.py, which borrows the helpers below.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import struct
import time
from collections.abc import Callable

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.contrib.auth import get_user
from django.core import mail
from django.db import connection
from django.test import Client

from accounts.models import AuditEntry
from conftest import PASSWORD
from console import crypto

TOTP_STEP = 30  # seconds (RFC 6238's default, and allauth's)
ACTIVATE = "/accounts/2fa/totp/activate/"
DEACTIVATE = "/accounts/2fa/totp/deactivate/"
AUTHENTICATE = "/accounts/2fa/authenticate/"
REAUTHENTICATE = "/accounts/reauthenticate/"
AUTHENTICATION_RECORDS = "account_authentication_methods"  # allauth's session key for how the user proved it


# RFC 6238, written here -------------------------------------------------------------------------


def hotp(secret: str, counter: int, digits: int = 6) -> str:
    """RFC 4226: HMAC-SHA1 over the 8-byte big-endian counter, dynamic truncation, last `digits` digits."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = int.from_bytes(digest[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


def time_counter(at: float | None = None) -> int:
    """RFC 6238: the number of whole 30 s steps since the Unix epoch."""
    return int((time.time() if at is None else at) // TOTP_STEP)


def totp(secret: str, at: float | None = None, digits: int = 6) -> str:
    return hotp(secret, time_counter(at), digits)


def within_one_window(action: Callable[[int], object]) -> object:
    """Run `action(counter)` until it ran from start to end inside one 30 s window, and return its result.

    A code is valid in its own window only (no tolerance), so an action that crossed into the next one
    proves nothing either way: it runs again, which is a person typing the new code. Starting just
    after a boundary, the second run has the best part of a window to finish.
    """
    for _ in range(2):
        counter = time_counter()
        outcome = action(counter)
        if time_counter() == counter:
            return outcome
    pytest.fail("two runs in a row crossed a 30 s window boundary")


def test_the_code_function_matches_the_rfc_6238_reference_values():
    """Appendix B of RFC 6238 (SHA-1, eight digits, the ASCII secret "12345678901234567890")."""
    secret = base64.b32encode(b"12345678901234567890").decode()
    expected = {
        59: "94287082",
        1111111109: "07081804",
        1111111111: "14050471",
        1234567890: "89005924",
        2000000000: "69279037",
        20000000000: "65353130",
    }
    assert {at: totp(secret, at, digits=8) for at in expected} == expected
    assert totp(secret, 59) == "287082"  # six digits are the last six


# Helpers ----------------------------------------------------------------------------------------


def sign_in_with_password(client: Client, email: str):
    return client.post("/accounts/login/", {"login": email, "password": PASSWORD})


def reauthenticate(client: Client) -> None:
    response = client.post(REAUTHENTICATE, {"password": PASSWORD})
    assert response.status_code == 302, response.content.decode()


def shown_secret(response) -> str:
    """The secret as the activation page prints it for typing into an app by hand."""
    match = re.search(r'id="authenticator_secret"[^>]*value="([A-Z2-7]+)"', response.content.decode())
    if match is None:
        pytest.fail("the activation page shows no secret")
    return match.group(1)


def activate_authenticator_app(client: Client) -> str:
    """From a fresh password sign-in: re-authenticate, read the secret, confirm with a code. Returns the secret."""
    reauthenticate(client)
    page = client.get(ACTIVATE)
    assert page.status_code == 200
    secret = shown_secret(page)
    response = within_one_window(lambda counter: client.post(ACTIVATE, {"code": hotp(secret, counter)}))
    assert response.status_code == 302, response.content.decode()
    assert response["Location"] == "/accounts/2fa/recovery-codes/"
    return secret


def member_with_authenticator_app(user) -> tuple[Client, str]:
    client = Client()
    assert sign_in_with_password(client, user.email)["Location"] == "/overview/"
    return client, activate_authenticator_app(client)


def signed_in(client: Client) -> bool:
    return get_user(client).is_authenticated


# Audit and mail ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # allauth reports an activation once it is committed
def test_activating_an_authenticator_app_is_audited_and_mailed(acme):
    member = acme.users["engineer"]
    mail.outbox.clear()

    member_with_authenticator_app(member)

    assert Authenticator.objects.filter(user=member, type=Authenticator.Type.TOTP).count() == 1
    added = AuditEntry.objects.filter(action="auth.mfa_added", actor=member)
    # The first factor brings recovery codes along; both are recorded.
    assert sorted((entry.details["kind"], entry.target) for entry in added) == [
        ("recovery_codes", member.email),
        ("totp", member.email),
    ]
    assert [message.to for message in mail.outbox] == [[member.email]]
    assert "Authenticator App Activated" in mail.outbox[0].subject
    assert "Authenticator app activated." in mail.outbox[0].body


def test_deactivating_it_is_audited_and_mailed(acme):
    member = acme.users["engineer"]
    client, _ = member_with_authenticator_app(member)
    mail.outbox.clear()

    assert client.get(DEACTIVATE).status_code == 200  # re-authenticated a moment ago: no new question
    response = client.post(DEACTIVATE)

    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/"
    assert not Authenticator.objects.filter(user=member).exists()  # the recovery codes go with it
    removed = AuditEntry.objects.filter(action="auth.mfa_removed", actor=member)
    assert sorted(entry.details["kind"] for entry in removed) == ["recovery_codes", "totp"]
    assert [message.to for message in mail.outbox] == [[member.email]]
    assert "Authenticator App Deactivated" in mail.outbox[0].subject


# Re-authentication ------------------------------------------------------------------------------


def sent_to_reauthenticate(response, path: str) -> bool:
    return response.status_code == 302 and response["Location"] == f"{REAUTHENTICATE}?next={path.replace('/', '%2F')}"


def test_adding_a_factor_after_force_login_asks_for_the_password_again(acme, client_for):
    member = acme.users["engineer"]
    client = client_for(member)  # force_login leaves no record of how the member proved who they are

    assert sent_to_reauthenticate(client.get(ACTIVATE), ACTIVATE)
    assert sent_to_reauthenticate(client.post(ACTIVATE, {"code": "123456"}), ACTIVATE)
    assert not Authenticator.objects.filter(user=member).exists()


def test_a_fresh_password_sign_in_does_not_count_as_re_authentication(acme):
    """allauth counts only an explicit confirmation: the sign-in that just happened is not one."""
    client = Client()
    sign_in_with_password(client, acme.users["engineer"].email)

    assert sent_to_reauthenticate(client.get(ACTIVATE), ACTIVATE)
    reauthenticate(client)
    assert client.get(ACTIVATE).status_code == 200


def test_removing_a_factor_without_a_recent_re_authentication_asks_for_it(acme, client_for):
    member = acme.users["engineer"]
    member_with_authenticator_app(member)
    client = client_for(member)

    assert sent_to_reauthenticate(client.get(DEACTIVATE), DEACTIVATE)
    assert sent_to_reauthenticate(client.post(DEACTIVATE), DEACTIVATE)
    assert Authenticator.objects.filter(user=member, type=Authenticator.Type.TOTP).exists()


@pytest.mark.parametrize("path", ["/accounts/2fa/recovery-codes/", "/accounts/2fa/recovery-codes/download/"])
def test_reading_recovery_codes_asks_for_the_password_again(acme, client_for, path):
    """A session left open on a shared screen is not enough to copy the codes that replace the app."""
    member = acme.users["engineer"]
    member_with_authenticator_app(member)

    response = client_for(member).get(path)

    assert sent_to_reauthenticate(response, path)
    assert re.search(rb"\b\d{8}\b", response.content) is None


def age_authentication_records(client: Client, seconds: float) -> None:
    """Pretend the member proved who they are `seconds` earlier than they did."""
    session = client.session
    records = session[AUTHENTICATION_RECORDS]
    session[AUTHENTICATION_RECORDS] = [{**record, "at": record["at"] - seconds} for record in records]
    session.save()


def test_a_re_authentication_counts_for_the_configured_window_only(acme, settings):
    member = acme.users["engineer"]
    client, _ = member_with_authenticator_app(member)
    window = settings.ACCOUNT_REAUTHENTICATION_TIMEOUT

    age_authentication_records(client, window - 30)
    assert client.get(DEACTIVATE).status_code == 200

    age_authentication_records(client, 31)
    assert sent_to_reauthenticate(client.post(DEACTIVATE), DEACTIVATE)
    assert Authenticator.objects.filter(user=member, type=Authenticator.Type.TOTP).exists()


# Secrets at rest --------------------------------------------------------------------------------


def stored_data(authenticator: Authenticator) -> str:
    """The `data` column as the database holds it, as text, bypassing every model field."""
    table = Authenticator._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT CAST(data AS TEXT) FROM {table} WHERE id = %s", [authenticator.pk])
        return cursor.fetchone()[0]


def test_the_totp_secret_is_stored_encrypted(acme):
    member = acme.users["engineer"]
    _, secret = member_with_authenticator_app(member)

    row = Authenticator.objects.get(user=member, type=Authenticator.Type.TOTP)
    raw = stored_data(row)
    assert secret not in raw
    assert secret.lower() not in raw.lower()
    assert crypto.decrypt(json.loads(raw)["secret"]) == secret


def test_the_recovery_code_seed_is_stored_encrypted(acme):
    member = acme.users["engineer"]
    member_with_authenticator_app(member)

    row = Authenticator.objects.get(user=member, type=Authenticator.Type.RECOVERY_CODES)
    raw = stored_data(row)
    seed = crypto.decrypt(json.loads(raw)["seed"])
    assert re.fullmatch(r"[0-9a-f]{80}", seed)
    assert seed not in raw


# Members page -----------------------------------------------------------------------------------


def two_factor_column(response) -> dict[str, str]:
    """Member email -> the text of the Two-factor column, for every row of the members table."""
    columns = {}
    for row in re.findall(r"<tr>(.*?)</tr>", response.content.decode(), re.S):
        email = re.search(r'<span class="muted">([^<]+@[^<]+)</span>', row)
        status = re.search(r'<span class="status [^"]+">(On|Off)</span>', row)
        if email and status:
            columns[email.group(1)] = status.group(1)
    return columns


def test_the_members_page_shows_and_filters_who_has_two_factor(acme, client_for):
    engineer = acme.users["engineer"].email
    everyone = {user.email for user in acme.users.values()}
    admin = client_for(acme.users["admin"])

    assert two_factor_column(admin.get("/members/")) == {email: "Off" for email in everyone}
    assert two_factor_column(admin.get("/members/?two_factor=1")) == {}

    member_with_authenticator_app(acme.users["engineer"])

    assert two_factor_column(admin.get("/members/")) == {
        email: "On" if email == engineer else "Off" for email in everyone
    }
    assert two_factor_column(admin.get("/members/?two_factor=1")) == {engineer: "On"}
    assert set(two_factor_column(admin.get("/members/?two_factor=0"))) == everyone - {engineer}


# Signing in -------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["admin", "finance", "product_operation", "cs_maintenance", "engineer"])
def test_accounts_without_a_factor_sign_in_with_the_password_alone(acme, key):
    """Acme's people are made like seed_demo's (one per built-in role, no factor): no second step for them."""
    client = Client()
    response = sign_in_with_password(client, acme.users[key].email)
    assert response.status_code == 302
    assert response["Location"] == "/overview/"
    assert signed_in(client)


def test_an_account_with_a_factor_is_asked_for_a_code_after_the_password(acme):
    member = acme.users["engineer"]
    member_with_authenticator_app(member)

    client = Client()
    response = sign_in_with_password(client, member.email)
    assert response.status_code == 302
    assert response["Location"] == AUTHENTICATE
    assert not signed_in(client)
    assert client.get("/overview/")["Location"].startswith("/accounts/login/")


def test_a_code_signs_in_once(acme):
    """RFC 6238 section 5.2: a code accepted once is refused when it comes again in its window."""
    member = acme.users["engineer"]
    secret = base64.b32encode(os.urandom(20)).decode()
    TOTP.activate(member, secret)  # set up directly: no code of this window has been typed yet

    def sign_in_twice_with_one_code(counter: int) -> list[bool]:
        outcomes = []
        for _ in range(2):
            client = Client()
            assert sign_in_with_password(client, member.email)["Location"] == AUTHENTICATE
            client.post(AUTHENTICATE, {"code": hotp(secret, counter)})
            outcomes.append(signed_in(client))
        return outcomes

    assert within_one_window(sign_in_twice_with_one_code) == [True, False]


def test_a_wrong_code_is_refused(acme):
    member = acme.users["engineer"]
    _, secret = member_with_authenticator_app(member)
    client = Client()
    sign_in_with_password(client, member.email)

    def submit_another_code(counter: int):
        wrong = str((int(hotp(secret, counter)) + 1) % 10**6).zfill(6)
        return client.post(AUTHENTICATE, {"code": wrong})

    response = within_one_window(submit_another_code)
    assert response.status_code == 200
    assert "Incorrect code." in response.content.decode()
    assert not signed_in(client)


def require(condition: bool, what: str) -> None:
    """A step that must work for the test to mean anything: its failure is never the expected one."""
    if not condition:
        pytest.fail(what)


def test_the_code_that_confirmed_the_app_does_not_sign_in_again(acme):
    member = acme.users["engineer"]
    client = Client()
    require(sign_in_with_password(client, member.email).status_code == 302, "password sign-in")
    require(client.post(REAUTHENTICATE, {"password": PASSWORD}).status_code == 302, "re-authentication")

    def activate_then_sign_in_with_the_same_code(counter: int) -> bool:
        Authenticator.objects.filter(user=member).delete()  # a second run starts over
        secret = shown_secret(client.get(ACTIVATE))
        activated = client.post(ACTIVATE, {"code": hotp(secret, counter)})
        require(activated.get("Location") == "/accounts/2fa/recovery-codes/", "activation")
        other = Client()
        require(sign_in_with_password(other, member.email).get("Location") == AUTHENTICATE, "second step")
        other.post(AUTHENTICATE, {"code": hotp(secret, counter)})
        return signed_in(other)

    assert within_one_window(activate_then_sign_in_with_the_same_code) is False
