"""Browser test: an authenticator app (TOTP, RFC 6238) and recovery codes end to end in Debian's chromium.

A member turns on two-factor authentication from the user menu (confirming the password first), reads the
secret off the page and computes codes with this suite's own RFC 6238 function (test_two_factor.py), as an
authenticator app would. Then every way in is tried: a wrong code, the right one, a replayed one, recovery
codes used once and twice, and recovery codes from before a regeneration.

Screenshots of the main steps land in the test's tmp directory (printed on the console with -s).
"""

import re

import pytest

from accounts.tests.test_two_factor import hotp, totp, within_one_window
from conftest import PASSWORD, label, sign_in

pytestmark = pytest.mark.browser

AUTHENTICATE = "/accounts/2fa/authenticate/"
INCORRECT = "Incorrect code."


def user_menu(page, name: str):
    """Open the user menu in the top bar and return it."""
    menu = page.locator("details.user-menu")
    menu.locator("summary").filter(has_text=name).click()
    return menu


def sign_out(page, base: str, name: str) -> None:
    from playwright.sync_api import expect

    user_menu(page, name).get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{base}/accounts/login/")


def sign_in_to_second_step(page, base: str, email: str) -> None:
    """Email and password on the sign-in page; the account has a factor, so a code is asked for."""
    from playwright.sync_api import expect

    page.goto(f"{base}/accounts/login/")
    page.get_by_label(label("Email")).fill(email)
    page.get_by_label(label("Password")).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(f"{base}{AUTHENTICATE}")
    expect(page.get_by_role("heading", name="Two-Factor Authentication")).to_be_visible()


def submit_code(page, code: str) -> str:
    """Type a code on the second step and submit it; returns the address the browser lands on."""
    page.get_by_label(label("Code")).fill(code)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign In", exact=True).click()
    return page.url


def cancel_second_step(page, base: str) -> None:
    from playwright.sync_api import expect

    page.get_by_role("button", name="Cancel").click()
    expect(page).to_have_url(f"{base}/accounts/login/")


def refused(page) -> bool:
    return page.url.endswith(AUTHENTICATE) and page.locator(".field .error").filter(has_text=INCORRECT).count() == 1


def reauthenticate_if_asked(page, base: str) -> None:
    """allauth asks for the password again before factors or recovery codes change, unless it was just given."""
    from playwright.sync_api import expect

    if "/accounts/reauthenticate/" not in page.url:
        return
    page.get_by_label(label("Password")).fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/reauthenticate/"))


def recovery_codes_on(page) -> list[str]:
    from playwright.sync_api import expect

    field = page.get_by_label("Unused codes")
    expect(field).to_be_visible()
    return field.input_value().split()


def test_authenticator_app_and_recovery_codes(live_server, acme, new_page, shoot):
    from playwright.sync_api import expect

    base = live_server.url
    member = acme.users["engineer"]
    name = member.get_full_name()
    page = new_page()

    # 1. Sign in with the password, open the two-factor page from the user menu.
    sign_in(page, base, member.email)
    user_menu(page, name).get_by_role("link", name="Two-factor authentication").click()
    expect(page).to_have_url(f"{base}/accounts/2fa/")
    expect(page.get_by_role("heading", name="Two-factor authentication")).to_be_visible()
    expect(page.get_by_text("Two-factor authentication is off.")).to_be_visible()
    shoot(page, "01-two-factor-off")

    # Activate an authenticator app: the password is asked for again first.
    page.get_by_role("link", name="Set up an authenticator app").click()
    expect(page).to_have_url(re.compile(r"/accounts/reauthenticate/\?next="))
    shoot(page, "02-reauthenticate")
    reauthenticate_if_asked(page, base)
    expect(page).to_have_url(f"{base}/accounts/2fa/totp/activate/")
    expect(page.get_by_role("heading", name="Activate Authenticator App")).to_be_visible()

    # The QR code is an image that really loaded (a data: URI the Content-Security-Policy allows).
    qr_code = page.locator("img.qr-code")
    expect(qr_code).to_be_visible()
    assert qr_code.get_attribute("src").startswith("data:image/svg+xml;base64,")
    assert qr_code.evaluate("image => image.complete && image.naturalWidth") > 0
    secret = page.get_by_label("Authenticator secret", exact=True).input_value()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret), secret
    shoot(page, "03-activate-authenticator-app")

    def activate(counter: int) -> str:
        page.get_by_label(label("Authenticator code")).fill(hotp(secret, counter))
        with page.expect_navigation():
            page.get_by_role("button", name="Activate").click()
        return page.url

    assert within_one_window(activate) == f"{base}/accounts/2fa/recovery-codes/"
    expect(page.get_by_role("status").filter(has_text="Authenticator app activated.")).to_be_visible()
    codes = recovery_codes_on(page)
    assert len(codes) == 10 and all(re.fullmatch(r"\d{8}", code) for code in codes), codes
    shoot(page, "04-recovery-codes")

    # 2. Sign out; signing in now asks for a code. A wrong one is refused, the right one lets in.
    sign_out(page, base, name)
    sign_in_to_second_step(page, base, member.email)
    shoot(page, "05-second-step")

    submit_code(page, str((int(totp(secret)) + 1) % 10**6).zfill(6))
    assert refused(page)
    shoot(page, "06-wrong-code")

    # 3. ... and a code that signed in once is refused when it comes again in its window. The code of the
    # current step may have confirmed the app (spent); the next step's is accepted too (one step of tolerance).
    def sign_in_then_replay(counter: int) -> tuple[str, bool]:
        counter += 1
        landed = submit_code(page, hotp(secret, counter))
        if landed != f"{base}/overview/":
            cancel_second_step(page, base)  # the window moved on while typing: start over with the next code
            sign_in_to_second_step(page, base, member.email)
            return landed, False
        sign_out(page, base, name)
        sign_in_to_second_step(page, base, member.email)
        submit_code(page, hotp(secret, counter))
        return landed, refused(page)

    assert within_one_window(sign_in_then_replay) == (f"{base}/overview/", True)
    shoot(page, "07-replayed-code-refused")
    cancel_second_step(page, base)

    # 4. A recovery code works once; another one still works after it.
    sign_in_to_second_step(page, base, member.email)
    assert submit_code(page, codes[0]) == f"{base}/overview/"
    sign_out(page, base, name)
    sign_in_to_second_step(page, base, member.email)
    submit_code(page, codes[0])
    assert refused(page)
    assert submit_code(page, codes[1]) == f"{base}/overview/"

    # 5. New recovery codes from the two-factor page: the old ones stop working.
    page.goto(f"{base}/accounts/2fa/")
    expect(page.get_by_text("8 of 10 unused.")).to_be_visible()
    shoot(page, "08-two-factor-on")
    page.get_by_role("link", name="Make new codes").click()
    reauthenticate_if_asked(page, base)
    expect(page).to_have_url(f"{base}/accounts/2fa/recovery-codes/generate/")
    shoot(page, "09-generate-recovery-codes")
    page.get_by_role("button", name="Generate").click()
    expect(page).to_have_url(f"{base}/accounts/2fa/recovery-codes/")
    new_codes = recovery_codes_on(page)
    assert len(new_codes) == 10 and not set(new_codes) & set(codes)
    shoot(page, "10-new-recovery-codes")

    sign_out(page, base, name)
    sign_in_to_second_step(page, base, member.email)
    for old in (codes[2], codes[9]):  # never used, yet replaced
        submit_code(page, old)
        assert refused(page), old
    assert submit_code(page, new_codes[0]) == f"{base}/overview/"
