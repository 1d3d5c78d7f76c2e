"""Browser tests: passkeys (WebAuthn) end to end in Debian's chromium, answered by Chrome's virtual authenticator.

Chrome DevTools Protocol's WebAuthn domain, reached through Playwright's CDP session, gives the page a
virtual platform authenticator (CTAP2, internal transport, resident keys, user verification) that answers
`navigator.credentials.create()` and `.get()` by itself, as a laptop's fingerprint reader would after a
touch. Everything else is real: allauth's pages and scripts under the console's Content-Security-Policy,
the fido2 checks on the server, the console's audit, mails and lockout.

Origins: WebAuthn needs a secure context. Chromium counts http://localhost as one, and fido2's own origin
check accepts http://localhost too, so the live server on localhost (pytest-django's default host) works with
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN off; the tests turn it off explicitly so that they prove exactly that.
The relying party ID is the request's host, "localhost". On http://127.0.0.1 (pytest --liveserver=127.0.0.1,
or the address `runserver` prints) Chromium refuses before the server is asked, "SecurityError: This is an
invalid domain." (an IP address cannot be a relying party ID), and no server setting can change that.

Screenshots of every step land in the test's tmp directory (printed on the console with -s).
"""

import pytest
from allauth.mfa.models import Authenticator
from django.core import mail

from accounts.models import AuditEntry
from conftest import PASSWORD, label, sign_in

PASSKEY_NAME = "Work laptop"
WRONG_PASSWORD = "not-the-password"
LOCKED_OUT = "Too many failed sign-in attempts"

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _strict_webauthn_origin(settings):
    settings.MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = False  # http://localhost passes fido2's strict check


@pytest.fixture
def console_errors():
    """`watch(page)`: the test fails if the page writes an error on the browser console. allauth's WebAuthn
    script reports a refused ceremony only there (the page itself shows nothing), and a script blocked by
    the Content-Security-Policy shows up there too."""
    errors: list[str] = []

    def watch(page) -> None:
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))

    yield watch
    assert not errors, "errors on the browser console:\n" + "\n".join(errors)


def add_virtual_authenticator(page):
    """A platform authenticator with a fingerprint reader that always says yes; returns (cdp, id)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    options = {
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": True,
        "automaticPresenceSimulation": True,
    }
    authenticator_id = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})["authenticatorId"]
    return cdp, authenticator_id


def stored_credentials(cdp, authenticator_id) -> list[dict]:
    return cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]


def sign_out(page, base: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base}/accounts/logout/")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{base}/accounts/login/")


def audit_kinds(action: str, email: str) -> list[str]:
    entries = AuditEntry.objects.filter(action=action, target=email).order_by("created_at", "id")
    return [entry.details.get("kind") for entry in entries]


def mail_subjects(email: str) -> list[str]:
    return [message.subject for message in mail.outbox if message.to == [email]]


def add_passkey(page, base: str, shoot, prefix: str) -> None:
    """From the two-factor page: Add under Security Keys, confirm the password, name the key, passwordless."""
    from playwright.sync_api import expect

    page.goto(f"{base}/accounts/2fa/")
    shoot(page, f"{prefix}-two-factor")
    security_keys = page.locator("section.panel").filter(
        has=page.get_by_role("heading", name="Passkeys and security keys")
    )
    expect(security_keys).to_contain_text("None.")
    security_keys.get_by_role("link", name="Add a passkey or security key").click()

    # Adding a factor asks for the password again, even right after signing in with it.
    expect(page.get_by_role("heading", name="Confirm Access")).to_be_visible()
    shoot(page, f"{prefix}-reauthenticate")
    page.get_by_label(label("Password")).fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()

    expect(page.get_by_role("heading", name="Add Security Key")).to_be_visible()
    page.get_by_label(label("Name")).fill(PASSKEY_NAME)
    # Ticked by default (accounts.forms.AddPasskeyForm): a passkey signs in alone, not only as a second factor.
    expect(page.get_by_label("Also sign in with this key alone (passkey)")).to_be_checked()
    shoot(page, f"{prefix}-add-form")
    page.get_by_role("button", name="Add", exact=True).click()

    # The first factor comes with recovery codes, which allauth shows at once.
    expect(page).to_have_url(f"{base}/accounts/2fa/recovery-codes/")
    expect(page.get_by_text("Security key added.")).to_be_visible()
    shoot(page, f"{prefix}-added")


def click_passkey_sign_in(page, base: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base}/accounts/login/")
    expect(page.get_by_label(label("Password"))).to_be_empty()
    page.get_by_role("button", name="Sign in with a passkey").click()


def test_passkey_added_signs_in_alone_and_as_second_factor_then_removed(
    live_server, acme, new_page, shoot, console_errors
):
    from playwright.sync_api import expect

    base = live_server.url
    member = acme.users["engineer"]
    page = new_page()
    console_errors(page)
    cdp, authenticator_id = add_virtual_authenticator(page)

    # 1. Signed in with the password, the member adds a passkey from the two-factor page.
    sign_in(page, base, member.email)
    mail.outbox.clear()
    add_passkey(page, base, shoot, "p01")

    [credential] = stored_credentials(cdp, authenticator_id)
    assert credential["isResidentCredential"] and credential["rpId"] == "localhost"
    [key] = Authenticator.objects.filter(user=member, type=Authenticator.Type.WEBAUTHN)
    assert key.wrap().name == PASSKEY_NAME
    assert key.wrap().is_passwordless is True

    page.goto(f"{base}/accounts/2fa/")
    security_keys = page.locator("section.panel").filter(
        has=page.get_by_role("heading", name="Passkeys and security keys")
    )
    expect(security_keys).to_contain_text("1 added.")
    security_keys.get_by_role("link", name="Manage keys").click()
    row = page.get_by_role("row").filter(has_text=PASSKEY_NAME)
    expect(row).to_contain_text("Passkey")
    shoot(page, "p02-security-keys")

    # allauth adds recovery codes with the first factor: both are audited; the member gets one mail.
    assert audit_kinds("auth.mfa_added", member.email) == ["webauthn", "recovery_codes"]
    assert mail_subjects(member.email) == ["Console: Security Key Added"]

    # 2. Signed out, "Sign in with a passkey" alone opens a session: no email, no password.
    sign_out(page, base)
    signs_before = credential["signCount"]
    click_passkey_sign_in(page, base)
    expect(page).to_have_url(f"{base}/overview/")
    shoot(page, "p03-signed-in-with-passkey")
    [credential] = stored_credentials(cdp, authenticator_id)
    assert credential["signCount"] > signs_before  # the authenticator really signed the challenge

    # 3. The password alone no longer opens a session: allauth asks for the second factor.
    sign_out(page, base)
    page.get_by_label(label("Email")).fill(member.email)
    page.get_by_label(label("Password")).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(f"{base}/accounts/2fa/authenticate/")
    shoot(page, "p04-second-factor")
    page.get_by_role("button", name="Use a security key").click()
    expect(page).to_have_url(f"{base}/overview/")

    # 5. Removing the passkey asks for the password again (the sign-in above was no re-authentication).
    mail.outbox.clear()
    page.goto(f"{base}/accounts/2fa/webauthn/")
    page.get_by_role("row").filter(has_text=PASSKEY_NAME).get_by_role("link", name="Remove").click()
    expect(page.get_by_role("heading", name="Confirm Access")).to_be_visible()
    page.get_by_label(label("Password")).fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Remove Security Key")).to_be_visible()
    shoot(page, "p05-confirm-remove")
    page.get_by_role("button", name="Remove").click()
    expect(page.get_by_text("No security keys have been added.")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text=PASSKEY_NAME)).to_have_count(0)
    shoot(page, "p06-removed")

    # With the last factor gone, its recovery codes go too.
    assert not Authenticator.objects.filter(user=member).exists()
    assert audit_kinds("auth.mfa_removed", member.email) == ["webauthn", "recovery_codes"]
    assert mail_subjects(member.email) == ["Console: Security Key Removed"]

    # The browser still holds the key, but the console no longer knows it.
    sign_out(page, base)
    click_passkey_sign_in(page, base)
    expect(page.get_by_role("status")).to_be_visible()  # allauth's words: "Incorrect code."
    expect(page).to_have_url(f"{base}/accounts/login/")
    shoot(page, "p07-removed-passkey-refused")
    assert page.request.get(f"{base}/overview/", max_redirects=0).status == 302


def test_lockout_holds_at_the_passkey_door(live_server, acme, new_page, shoot, console_errors, settings):
    from playwright.sync_api import expect

    base = live_server.url
    member = acme.users["engineer"]
    page = new_page()
    console_errors(page)
    cdp, authenticator_id = add_virtual_authenticator(page)
    sign_in(page, base, member.email)
    add_passkey(page, base, shoot, "l01")
    sign_out(page, base)

    # Someone tries passwords for the account until the lockout closes it.
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        page.get_by_label(label("Email")).fill(member.email)
        page.get_by_label(label("Password")).fill(WRONG_PASSWORD)
        with page.expect_navigation():  # each failure is a new page with the same error
            page.get_by_role("button", name="Sign in", exact=True).click()
        expect(page.get_by_role("alert")).to_contain_text("password you specified are not correct")
    shoot(page, "l02-failed-passwords")
    failures = AuditEntry.objects.filter(action="auth.login_failed", target=member.email).count()
    assert failures == settings.LOGIN_FAILURE_LIMIT

    # The owner's passkey answers, yet the console refuses the session while the lock holds.
    [credential] = stored_credentials(cdp, authenticator_id)
    signs_before = credential["signCount"]
    logins_before = AuditEntry.objects.filter(action="auth.login", target=member.email).count()
    click_passkey_sign_in(page, base)
    expect(page.get_by_text(LOCKED_OUT)).to_be_visible()
    expect(page).to_have_url(f"{base}/accounts/login/")
    shoot(page, "l03-passkey-locked-out")

    [credential] = stored_credentials(cdp, authenticator_id)
    assert credential["signCount"] > signs_before  # the passkey did sign: the refusal is the server's
    assert AuditEntry.objects.filter(action="auth.lockout", target=member.email).exists()
    assert AuditEntry.objects.filter(action="auth.login", target=member.email).count() == logins_before
    assert page.request.get(f"{base}/overview/", max_redirects=0).status == 302
