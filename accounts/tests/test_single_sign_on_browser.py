"""Browser tests: single sign-on in Debian's chromium against the real OpenID Connect provider process.

Acme's Admin connects the provider through the settings page (reading the redirect URI off it and
registering it at the provider, as an Admin would in Okta or Keycloak). Then a new engineer walks in: the
sign-in page, "Sign in with single sign-on", the work address, the provider's own login page, and back on
the console's overview of Acme as a new member with the default role.

The walk runs with the console's Content-Security-Policy enforced: its form-action 'self' would block a
redirect to the provider answering the work-address form, so the console hands over from a page of its own
(accounts/views.py single_sign_on_entry); a violation Chromium reports fails the test. Screenshots land in
var/screenshots/ (sso-*.png).
"""

import re
from urllib.parse import urlsplit

import pytest

from accounts.models import Membership, SingleSignOn, User
from accounts.tests.test_single_sign_on import DEFAULT_ROLE, IDP_PASSWORD, at_provider, connect, fresh_address
from conftest import BROWSER_TIMEOUT_MS, label, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def allow_provider(settings, oidc_provider):
    settings.USAGE_UPSTREAM_ALLOWED_HOSTS = [urlsplit(oidc_provider.issuer).netloc]


def test_an_admin_connects_the_provider_through_the_settings_page(
    live_server, acme, oidc_provider, allow_provider, new_page, shoot
):
    from playwright.sync_api import expect

    base = live_server.url
    admin = new_page()
    sign_in(admin, base, acme.users["admin"].email)
    admin.locator("details.org-switcher summary").click()
    admin.get_by_role("link", name="Single sign-on").click()
    expect(admin.get_by_role("heading", name="Single sign-on")).to_be_visible()
    redirect_uri = admin.get_by_label("Redirect URI to register at the provider").input_value()
    assert redirect_uri == f"{base}/accounts/sso/org-{acme.organization.pk}/callback/"
    client_id, client_secret = oidc_provider.add_client(redirect_uri)

    admin.get_by_label(label("Issuer URL")).fill(oidc_provider.issuer)
    admin.get_by_label(label("Client ID")).fill(client_id)
    admin.get_by_label(label("Client secret")).fill(client_secret)
    admin.get_by_label(label("Allowed email domains")).fill("acme.test")
    admin.get_by_label("Anyone from an allowed domain joins with the default role").check()
    admin.get_by_label(label("Default role")).select_option(label="Engineer")
    expect(admin.get_by_role("checkbox", name="Enabled", exact=True)).to_be_checked()
    shoot(admin, "sso-01-settings-form")
    admin.get_by_role("button", name="Save").click()

    expect(admin.get_by_role("status").filter(has_text="Single sign-on settings saved.")).to_be_visible()
    expect(admin.get_by_text("A client secret is stored")).to_be_visible()
    expect(admin.get_by_label(label("Client secret"))).to_have_value("")
    assert client_secret not in admin.content()
    shoot(admin, "sso-02-settings-saved")
    config = SingleSignOn.objects.get(organization=acme.organization)
    assert (config.issuer, config.client_id, config.client_secret) == (oidc_provider.issuer, client_id, client_secret)
    assert (config.joining, config.default_role, config.enabled) == (DEFAULT_ROLE, acme.roles["engineer"], True)


def walk_in(page, base: str, provider, email: str, shoot=None) -> None:
    """A person's walk: the sign-in page, single sign-on, the work address, the provider's login page."""
    from playwright.sync_api import expect

    page.goto(f"{base}/accounts/login/")
    page.get_by_role("link", name="Sign in with single sign-on").click()
    expect(page).to_have_url(f"{base}/accounts/sso/")
    page.get_by_label(label("Work email")).fill(email)
    if shoot:
        shoot(page, "sso-03-entry")
    page.get_by_role("button", name="Continue").click()

    expect(page).to_have_url(re.compile(rf"^{re.escape(provider.login_url)}\?next="))
    expect(page.get_by_role("heading", name="Test identity provider")).to_be_visible()
    page.get_by_label("Username").fill(email)
    page.get_by_label("Password").fill(IDP_PASSWORD)
    if shoot:
        shoot(page, "sso-04-provider-login")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/overview/")


def a_page(chromium, contexts: list, **options):
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, **options)
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    contexts.append(context)
    return context.new_page()


@pytest.fixture
def contexts():
    opened = []
    yield opened
    for context in opened:
        context.close()


def test_a_new_engineer_signs_in_with_single_sign_on(
    live_server, acme, oidc_provider, allow_provider, chromium, contexts, shoot
):
    from playwright.sync_api import expect

    base = live_server.url
    connect(acme, oidc_provider, base, joining=DEFAULT_ROLE, default_role=acme.roles["engineer"])
    newcomer = at_provider(oidc_provider, fresh_address("acme.test", "new.engineer"), name="Noor Engineer")
    person = a_page(chromium, contexts)
    violations = []
    person.context.on("console", lambda message: violations.append(message.text))

    try:
        walk_in(person, base, oidc_provider, newcomer, shoot=shoot)
    finally:
        assert not [text for text in violations if "Content Security Policy" in text], violations

    expect(person.get_by_role("heading", name="Acme", exact=True)).to_be_visible()
    expect(person.get_by_text("Your role here is Engineer")).to_be_visible()
    expect(person.locator("details.user-menu summary")).to_contain_text("Noor Engineer")
    shoot(person, "sso-05-overview")
    user = User.objects.get(email=newcomer)
    assert Membership.objects.get(user=user, organization=acme.organization).role == acme.roles["engineer"]
    assert not user.has_usable_password()
