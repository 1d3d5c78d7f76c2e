"""Single sign-on against a real OpenID Connect provider (accounts/tests/idp, its own process): discovery,
the code flow with PKCE, ID token signatures, the organization's rules on who comes in and how they join,
session confinement, required single sign-on and its break-glass, the settings page, the egress guard and
the lockout. The console runs as pytest-django's live server; a requests.Session plays the browser, with
the provider's cookies and the console's side by side (they have different names and hosts)."""

import base64
import hashlib
import hmac
import html
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import jwt
import pytest
import requests
from allauth.account.models import EmailAddress
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from allauth.socialaccount.models import SocialAccount
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db import connection
from django.test import Client, RequestFactory
from django.urls import reverse
from jwt.algorithms import RSAAlgorithm

from accounts import sso
from accounts.models import AuditEntry, Invitation, Membership, SingleSignOn, User
from accounts.services import create_role, invite
from conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

IDP_PASSWORD = "idp-password-5150"
TIMEOUT = 10
SETTINGS_PAGE = "/settings/organization/sso/"
INVITATION = SingleSignOn.Joining.INVITATION
DEFAULT_ROLE = SingleSignOn.Joining.DEFAULT_ROLE


# The provider -----------------------------------------------------------------------------------------

_added: set[tuple[str, str]] = set()


def at_provider(provider, email: str, *, name: str = "", verified: bool = True) -> str:
    """`email` as a person at the provider, which lives for the whole test session: each is added once."""
    if (provider.issuer, email) not in _added:
        provider.add_user(email, IDP_PASSWORD, name=name, email_verified=verified)
        _added.add((provider.issuer, email))
    return email


def fresh_address(domain: str, who: str = "person") -> str:
    return f"{who}-{secrets.token_hex(4)}@{domain}"


def provider_netloc(provider) -> str:
    """The provider's host and port (127.0.0.1:<port>), a form settings.USAGE_UPSTREAM_ALLOWED_HOSTS takes."""
    return urlsplit(provider.issuer).netloc


@pytest.fixture
def allow_provider(settings, oidc_provider):
    """The operator's choice that lets the egress guard reach the provider on this machine."""
    settings.USAGE_UPSTREAM_ALLOWED_HOSTS = [provider_netloc(oidc_provider)]


@pytest.fixture
def console(live_server, allow_provider) -> str:
    return live_server.url


def callback_url(console: str, organization) -> str:
    return f"{console}/accounts/sso/org-{organization.pk}/callback/"


def connect(org, provider, console: str, *, joining=INVITATION, default_role=None, required=False) -> SingleSignOn:
    """Register the console at the provider and save Acme's settings as its Admin would (discovery read)."""
    client_id, client_secret = provider.add_client(callback_url(console, org.organization))
    return sso.save_settings(
        org.membership("admin"),
        issuer=provider.issuer,
        client_id=client_id,
        client_secret=client_secret,
        allowed_domains="acme.test",
        joining=joining,
        default_role=default_role,
        required=required,
        enabled=True,
    )


# The browser ----------------------------------------------------------------------------------------


@dataclass
class Walk:
    authorize_url: str  # where the console sent the browser
    callback_url: str  # where the provider sent it back
    landing: requests.Response  # the console's page at the end, redirects followed


def query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def handed_over_to(answer) -> str:
    """Where the console's hand-over page sends the browser: its meta refresh, and the Continue link."""
    assert answer.status_code == 200, answer.text[:3000]
    refresh = re.search(r'<meta http-equiv="refresh" content="0;url=([^"]+)">', answer.text)
    link = re.search(r'<a class="button primary wide" href="([^"]+)">Continue</a>', answer.text)
    assert refresh and link and refresh.group(1) == link.group(1), answer.text[:3000]
    return html.unescape(refresh.group(1))


def sso_sign_in(console: str, email: str, *, typed: str = "", browser: requests.Session | None = None) -> Walk:
    """What a person does: type a work address at the console's single sign-on entry (`typed`, else
    `email`), log in at the provider as `email`, and follow the provider back to the console."""
    browser = browser or requests.Session()
    browser.get(f"{console}/accounts/sso/", timeout=TIMEOUT).raise_for_status()
    form = {"email": typed or email, "csrfmiddlewaretoken": browser.cookies["csrftoken"]}
    sent = browser.post(f"{console}/accounts/sso/", data=form, allow_redirects=False, timeout=TIMEOUT)
    authorize_url = handed_over_to(sent)

    to_login = browser.get(authorize_url, allow_redirects=False, timeout=TIMEOUT)
    assert to_login.status_code == 302, to_login.text[:3000]
    login_url = urljoin(authorize_url, to_login.headers["Location"])
    browser.get(login_url, timeout=TIMEOUT).raise_for_status()
    credentials = {
        "username": email,
        "password": IDP_PASSWORD,
        "next": query(login_url)["next"],
        "csrfmiddlewaretoken": browser.cookies["idp_csrftoken"],
    }
    logged_in = browser.post(login_url, data=credentials, allow_redirects=False, timeout=TIMEOUT)
    assert logged_in.status_code == 302, "the provider refused the sign-in"
    back = browser.get(urljoin(login_url, logged_in.headers["Location"]), allow_redirects=False, timeout=TIMEOUT)
    assert back.status_code == 302, back.text[:3000]
    returned_to = back.headers["Location"]
    assert returned_to.startswith(f"{console}/accounts/sso/"), returned_to
    landing = browser.get(returned_to, timeout=TIMEOUT)
    return Walk(authorize_url, returned_to, landing)


def password_sign_in(console: str, email: str, password: str = PASSWORD) -> tuple[requests.Session, str]:
    """Sign in through the console's password form; returns the session and where it was sent next."""
    browser = requests.Session()
    browser.get(f"{console}/accounts/login/", timeout=TIMEOUT).raise_for_status()
    form = {"login": email, "password": password, "csrfmiddlewaretoken": browser.cookies["csrftoken"]}
    answer = browser.post(f"{console}/accounts/login/", data=form, allow_redirects=False, timeout=TIMEOUT)
    assert answer.status_code == 302, html.unescape(answer.text)[:3000]
    return browser, urljoin(console, answer.headers["Location"])


def text(response) -> str:
    return html.unescape(response.text)


def heading(response) -> str:
    found = re.search(r"<h1[^>]*>(.*?)</h1>", response.text, re.S)
    return html.unescape(found.group(1).strip()) if found else ""


def signed_in(browser: requests.Session, console: str) -> bool:
    """Whether the console knows this browser: the profile page opens instead of sending it to sign in."""
    answer = browser.get(f"{console}/accounts/profile/", allow_redirects=False, timeout=TIMEOUT)
    return answer.status_code == 200


def refused_on_sign_in_page(walk: Walk, console: str, message: str) -> None:
    assert walk.landing.url == f"{console}/accounts/login/", walk.landing.url
    assert message in text(walk.landing), text(walk.landing)[:3000]


# 1. Discovery, the code flow with PKCE, the ID token ------------------------------------------------------


def test_a_member_signs_in_with_the_provider_and_lands_on_acme(console, oidc_provider, acme):
    config = connect(acme, oidc_provider, console)
    member = acme.users["engineer"]
    at_provider(oidc_provider, member.email)

    walk = sso_sign_in(console, member.email)

    # The console read the provider's discovery document and sent the browser to its authorize endpoint
    # with a state and an S256 challenge (the provider requires PKCE, so the code exchange that followed
    # also proves the console kept the matching verifier).
    endpoint = oidc_provider.discovery()["authorization_endpoint"]
    assert walk.authorize_url.startswith(f"{endpoint}?")
    sent = query(walk.authorize_url)
    assert sent["response_type"] == "code"
    assert sent["client_id"] == config.client_id
    assert sent["redirect_uri"] == callback_url(console, acme.organization)
    assert {"openid", "email", "profile"} <= set(sent["scope"].split())
    assert sent["code_challenge_method"] == "S256"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", sent["code_challenge"])
    assert len(sent["state"]) >= 16
    returned = query(walk.callback_url)
    assert returned["state"] == sent["state"] and returned["code"]

    assert walk.landing.url == f"{console}/overview/"
    assert heading(walk.landing) == "Acme"
    assert "Your role here is <strong>Engineer</strong>" in walk.landing.text
    assert SocialAccount.objects.get(provider=config.provider_id).user == member
    assert AuditEntry.objects.get(action="auth.login").actor == member


def test_the_sign_in_is_audited_as_single_sign_on(console, oidc_provider, acme):
    connect(acme, oidc_provider, console)
    member = acme.users["engineer"]
    at_provider(oidc_provider, member.email)

    sso_sign_in(console, member.email)

    login = AuditEntry.objects.get(action="auth.login")
    assert (login.actor, login.target, login.details) == (member, member.email, {"through": "single sign-on"})


def test_the_state_must_come_back_unchanged(console, oidc_provider, acme):
    """A callback whose state the console did not hand out (a forged or replayed link) signs nobody in."""
    connect(acme, oidc_provider, console)
    member = acme.users["engineer"]
    at_provider(oidc_provider, member.email)
    browser = requests.Session()
    walk = sso_sign_in(console, member.email, browser=browser)
    assert walk.landing.url == f"{console}/overview/"

    other = requests.Session()
    replayed = other.get(walk.callback_url, timeout=TIMEOUT)  # same code and state, another browser
    tampered = other.get(
        f"{walk.callback_url.split('?')[0]}?{urlencode({**query(walk.callback_url), 'state': 'not-ours'})}",
        timeout=TIMEOUT,
    )

    for answer in (replayed, tampered):
        assert answer.status_code == 401 and "Third-Party Login Failure" in answer.text
    assert not signed_in(other, console)
    assert AuditEntry.objects.filter(action="auth.login").count() == 1


@pytest.mark.parametrize("cause", ["provider down", "egress guard"])
def test_a_provider_out_of_reach_is_reported_at_the_entry(console, oidc_provider, acme, settings, cause):
    config = connect(acme, oidc_provider, console)
    if cause == "provider down":  # nothing listens on port 9 (which the operator allowed)
        settings.USAGE_UPSTREAM_ALLOWED_HOSTS = [provider_netloc(oidc_provider), "127.0.0.1:9"]
        SingleSignOn.objects.filter(pk=config.pk).update(issuer="http://127.0.0.1:9/o")
    else:  # the operator withdrew the permission (or the issuer's name now points inside)
        settings.USAGE_UPSTREAM_ALLOWED_HOSTS = []
    browser = requests.Session()
    browser.get(f"{console}/accounts/sso/", timeout=TIMEOUT).raise_for_status()

    form = {"email": acme.users["engineer"].email, "csrfmiddlewaretoken": browser.cookies["csrftoken"]}
    answer = browser.post(f"{console}/accounts/sso/", data=form, allow_redirects=False, timeout=TIMEOUT)

    assert answer.status_code == 200  # a message for the person, not a server error
    assert "identity provider cannot be reached now" in html.unescape(answer.text)
    assert not signed_in(browser, console)


# 2. The domain rule and verified addresses ---------------------------------------------------------------


def test_an_identity_outside_the_allowed_domains_is_refused(console, oidc_provider, acme):
    connect(acme, oidc_provider, console, joining=DEFAULT_ROLE, default_role=acme.roles["engineer"])
    stranger = at_provider(oidc_provider, fresh_address("elsewhere.test"))
    browser = requests.Session()
    users_before = User.objects.count()

    # The address typed at the console picks Acme; the provider vouches for another domain.
    walk = sso_sign_in(console, stranger, typed="anyone@acme.test", browser=browser)

    refused_on_sign_in_page(walk, console, "Acme's single sign-on does not accept addresses at elsewhere.test.")
    assert not signed_in(browser, console)
    assert User.objects.count() == users_before and not User.objects.filter(email=stranger).exists()
    assert not SocialAccount.objects.exists()
    assert not AuditEntry.objects.filter(action="auth.login").exists()


def test_an_address_the_provider_did_not_verify_is_refused(console, oidc_provider, acme):
    connect(acme, oidc_provider, console, joining=DEFAULT_ROLE, default_role=acme.roles["engineer"])
    unverified = at_provider(oidc_provider, fresh_address("acme.test", "unverified"), verified=False)
    browser = requests.Session()

    walk = sso_sign_in(console, unverified, browser=browser)

    refused_on_sign_in_page(walk, console, "Acme's identity provider did not confirm a verified email address.")
    assert not signed_in(browser, console)
    assert not User.objects.filter(email=unverified).exists()


# 3. Joining on first sign-in ---------------------------------------------------------------------------


def test_a_new_person_joins_with_the_default_role(console, oidc_provider, acme):
    connect(acme, oidc_provider, console, joining=DEFAULT_ROLE, default_role=acme.roles["engineer"])
    newcomer = at_provider(oidc_provider, fresh_address("acme.test", "newcomer"), name="Nia Newcomer")

    walk = sso_sign_in(console, newcomer)

    assert walk.landing.url == f"{console}/overview/" and heading(walk.landing) == "Acme"
    user = User.objects.get(email=newcomer)
    assert user.name == "Nia Newcomer"
    assert not user.has_usable_password()
    assert EmailAddress.objects.get(user=user).verified
    assert Membership.objects.get(user=user).role == acme.roles["engineer"]
    assert Membership.objects.get(user=user).organization == acme.organization
    joined = AuditEntry.objects.get(action="member.joined_by_sso")
    assert (joined.actor, joined.organization, joined.target) == (user, acme.organization, newcomer)
    assert joined.details == {"role": "Engineer"}


def test_without_an_invitation_nobody_new_joins(console, oidc_provider, acme):
    connect(acme, oidc_provider, console, joining=INVITATION)
    newcomer = at_provider(oidc_provider, fresh_address("acme.test", "uninvited"))
    browser = requests.Session()
    users_before = User.objects.count()

    walk = sso_sign_in(console, newcomer, browser=browser)

    refused_on_sign_in_page(walk, console, "You need an invitation to join Acme. Ask one of its Admins.")
    assert not signed_in(browser, console)
    assert User.objects.count() == users_before
    assert not SocialAccount.objects.exists()


def test_an_invited_person_joins_with_the_invited_role(console, oidc_provider, acme):
    connect(acme, oidc_provider, console, joining=INVITATION)
    invited = at_provider(oidc_provider, fresh_address("acme.test", "invited"))
    invitation = invite(acme.membership("admin"), invited, acme.roles["finance"])

    walk = sso_sign_in(console, invited)

    assert walk.landing.url == f"{console}/overview/"
    assert "Your role here is <strong>Finance</strong>" in walk.landing.text
    user = User.objects.get(email=invited)
    assert Membership.objects.get(user=user, organization=acme.organization).role == acme.roles["finance"]
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.ACCEPTED and invitation.accepted_by == user
    assert AuditEntry.objects.get(action="member.joined_by_sso").details == {"role": "Finance"}


# 4. People the console knows already --------------------------------------------------------------------


def test_an_existing_member_is_the_same_user_after_single_sign_on(console, oidc_provider, acme):
    connect(acme, oidc_provider, console, joining=DEFAULT_ROLE, default_role=acme.roles["finance"])
    member = acme.users["cs_maintenance"]
    at_provider(oidc_provider, member.email)
    users_before = User.objects.count()

    first = sso_sign_in(console, member.email)
    second = sso_sign_in(console, member.email)

    assert first.landing.url == second.landing.url == f"{console}/overview/"
    assert User.objects.count() == users_before
    assert User.objects.get(email=member.email).pk == member.pk
    assert Membership.objects.get(user=member, organization=acme.organization).role == acme.roles["cs_maintenance"]
    assert SocialAccount.objects.filter(user=member).count() == 1
    assert not AuditEntry.objects.filter(action="member.joined_by_sso").exists()
    assert AuditEntry.objects.filter(action="auth.login", actor=member).count() == 2


def test_an_existing_user_who_is_not_a_member_needs_an_invitation(console, oidc_provider, acme, globex):
    connect(acme, oidc_provider, console, joining=INVITATION)
    contractor = User.objects.create_user("contractor@acme.test", PASSWORD, name="Casey Contractor")
    Membership.objects.create(user=contractor, organization=globex.organization, role=globex.roles["engineer"])
    at_provider(oidc_provider, contractor.email)
    browser = requests.Session()

    walk = sso_sign_in(console, contractor.email, browser=browser)

    refused_on_sign_in_page(walk, console, "You need an invitation to join Acme. Ask one of its Admins.")
    assert not signed_in(browser, console)
    assert not Membership.objects.filter(user=contractor, organization=acme.organization).exists()
    assert not SocialAccount.objects.filter(user=contractor).exists()


# 5. A single-sign-on session opens its own organization only -----------------------------------------------


def test_a_single_sign_on_session_cannot_switch_to_another_organization(console, oidc_provider, acme, globex):
    connect(acme, oidc_provider, console)
    person = acme.users["engineer"]
    Membership.objects.create(user=person, organization=globex.organization, role=globex.roles["admin"])
    at_provider(oidc_provider, person.email)
    browser = requests.Session()

    walk = sso_sign_in(console, person.email, browser=browser)
    assert heading(walk.landing) == "Acme"

    form = {"organization": globex.organization.pk, "csrfmiddlewaretoken": browser.cookies["csrftoken"]}
    switched = browser.post(f"{console}/organizations/switch/", data=form, timeout=TIMEOUT)

    assert switched.url == f"{console}/overview/"
    assert "which opens that organization only. Sign out and sign in with your password to open Globex." in text(
        switched
    )
    assert heading(switched) == "Acme"
    overview = browser.get(f"{console}/overview/", timeout=TIMEOUT)
    assert heading(overview) == "Acme" and "Your role here is <strong>Engineer</strong>" in overview.text
    # Globex's projects stay closed to this session; Acme's open.
    assert project_page(browser, console, acme.projects[0]).status_code == 200
    assert project_page(browser, console, globex.projects[0]).status_code == 404


def project_page(browser: requests.Session, console: str, project) -> requests.Response:
    path = reverse("projects:detail", args=[project.project_id])
    return browser.get(f"{console}{path}", allow_redirects=False, timeout=TIMEOUT)


# 6. Required single sign-on and the Admin's break-glass ------------------------------------------------------


def held_back_by_single_sign_on(browser: requests.Session, console: str) -> bool:
    page = browser.get(f"{console}/overview/", allow_redirects=False, timeout=TIMEOUT)
    api = browser.get(f"{console}/api/v1/projects/", allow_redirects=False, timeout=TIMEOUT)
    if page.status_code == 200 and api.status_code == 200:
        return False
    assert page.status_code == 403, page.status_code
    assert "Acme requires its single sign-on." in text(page)
    assert "Sign out and use single sign-on" in text(page)
    assert api.status_code == 403 and api.headers["Content-Type"] == "application/json"
    assert api.json()["message"].startswith("Acme requires its single sign-on.")
    return True


def totp_code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // mfa_settings.TOTP_PERIOD))


def test_required_single_sign_on_holds_back_password_sessions(console, oidc_provider, acme):
    connect(acme, oidc_provider, console, required=True)

    browser, landed = password_sign_in(console, acme.users["engineer"].email)

    assert landed == f"{console}/overview/"
    assert held_back_by_single_sign_on(browser, console)


def test_required_single_sign_on_lets_its_own_sessions_in(console, oidc_provider, acme):
    connect(acme, oidc_provider, console, required=True)
    member = acme.users["engineer"]
    at_provider(oidc_provider, member.email)
    browser = requests.Session()

    sso_sign_in(console, member.email, browser=browser)

    assert not held_back_by_single_sign_on(browser, console)


def test_an_admin_with_password_and_second_factor_may_break_the_glass(console, oidc_provider, acme):
    connect(acme, oidc_provider, console, required=True)
    admin = acme.users["admin"]
    secret = generate_totp_secret()
    TOTP.activate(admin, secret)

    browser, asked_for = password_sign_in(console, admin.email)
    assert asked_for == f"{console}/accounts/2fa/authenticate/"
    browser.get(asked_for, timeout=TIMEOUT).raise_for_status()
    form = {"code": totp_code(secret), "csrfmiddlewaretoken": browser.cookies["csrftoken"]}
    answer = browser.post(asked_for, data=form, allow_redirects=False, timeout=TIMEOUT)
    assert answer.status_code == 302 and answer.headers["Location"] == "/overview/"

    assert not held_back_by_single_sign_on(browser, console)


def test_an_admin_with_the_password_alone_is_held_back(console, oidc_provider, acme):
    connect(acme, oidc_provider, console, required=True)

    browser, landed = password_sign_in(console, acme.users["admin"].email)

    assert landed == f"{console}/overview/"
    assert held_back_by_single_sign_on(browser, console)


# 7. The ID token's signature ------------------------------------------------------------------------------


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def id_token_from_provider(provider, client: tuple[str, str], redirect_uri: str, email: str) -> str:
    """An ID token the provider really issued to `client` for `email` (the code flow, outside the console)."""
    verifier, challenge = pkce_pair()
    authorize = (
        provider.discovery()["authorization_endpoint"]
        + "?"
        + urlencode(
            {
                "response_type": "code",
                "client_id": client[0],
                "redirect_uri": redirect_uri,
                "scope": "openid email profile",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
    )
    code = query(provider.authorization_redirect(provider.sign_in_session(email, IDP_PASSWORD), authorize))["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "code_verifier": verifier}
    answer = requests.post(provider.discovery()["token_endpoint"], data=form, auth=client, timeout=TIMEOUT)
    answer.raise_for_status()
    return answer.json()["id_token"]


def resigned(token: str, **header) -> str:
    """The same claims and header (key id included), signed with a fresh RSA key the provider never
    published; `header` changes the header (None drops an entry)."""
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    header = {
        name: value for name, value in {**jwt.get_unverified_header(token), **header}.items() if value is not None
    }
    return jwt.encode(claims_of(token), forger, algorithm="RS256", headers=header)


@dataclass
class Verifier:
    adapter: sso.VerifyingAdapter
    app: object  # allauth's SocialApp for Acme's provider
    genuine: str  # an ID token the provider issued to Acme's client
    for_another_client: str  # one it issued to another client, for the same person
    email: str

    def refuses(self, token: str) -> bool:
        """True when the console refuses the token (OAuth2Error, what its callback turns into a refusal
        page); False when it accepts it. Anything else raised propagates: the callback would answer 500."""
        try:
            self.adapter._decode_id_token(self.app, token)
        except OAuth2Error:
            return True
        return False


@pytest.fixture
def verifier(oidc_provider, acme, allow_provider) -> Verifier:
    """The console's ID token check for Acme's provider, with two tokens the provider really issued."""
    redirect_uri = "http://127.0.0.1:9/accounts/sso/callback/"  # the flow stops at the redirect
    client = oidc_provider.add_client(redirect_uri)
    other_client = oidc_provider.add_client(redirect_uri)
    config = sso.save_settings(
        acme.membership("admin"),
        issuer=oidc_provider.issuer,
        client_id=client[0],
        client_secret=client[1],
        allowed_domains="acme.test",
        joining=INVITATION,
        default_role=None,
        required=False,
        enabled=True,
    )
    email = at_provider(oidc_provider, acme.users["engineer"].email)
    adapter = sso.VerifyingAdapter(RequestFactory().get("/accounts/sso/"), config.provider_id)
    adapter.did_fetch_access_token = True  # as after the code exchange, where allauth alone skips the check
    assert adapter.openid_config["jwks_uri"].startswith(oidc_provider.issuer)  # read through the egress guard
    return Verifier(
        adapter,
        sso.app_for(config),
        id_token_from_provider(oidc_provider, client, redirect_uri, email),
        id_token_from_provider(oidc_provider, other_client, redirect_uri, email),
        email,
    )


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def hmac_signed(claims: dict, secret: bytes, header: dict) -> str:
    """A JWT signed with HMAC-SHA256, built by hand: PyJWT refuses to use a public key as an HMAC secret."""

    def encoded(part: bytes) -> bytes:
        return base64.urlsafe_b64encode(part).rstrip(b"=")

    signing_input = encoded(json.dumps(header).encode()) + b"." + encoded(json.dumps(claims).encode())
    signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + encoded(signature)).decode()


def test_an_id_token_signed_with_another_key_is_refused(verifier):
    kid = jwt.get_unverified_header(verifier.genuine)["kid"]
    forgeries = {
        "same key id, another key": resigned(verifier.genuine),
        "unknown key id": resigned(verifier.genuine, kid="not-a-published-key"),
        "no signature": jwt.encode(claims_of(verifier.genuine), None, algorithm="none", headers={"kid": kid}),
        "genuine, for another client": verifier.for_another_client,
    }

    assert verifier.adapter._decode_id_token(verifier.app, verifier.genuine)["email"] == verifier.email
    assert [what for what, token in forgeries.items() if not verifier.refuses(token)] == []


@pytest.mark.parametrize("forgery", ["HS256 keyed with the provider's public key", "no key id"])
def test_a_token_with_an_unexpected_header_is_refused_not_crashed(verifier, oidc_provider, forgery):
    header = jwt.get_unverified_header(verifier.genuine)
    if forgery == "no key id":
        token = resigned(verifier.genuine, kid=None)
    else:
        jwks = requests.get(oidc_provider.discovery()["jwks_uri"], timeout=TIMEOUT).json()
        public_pem = RSAAlgorithm.from_jwk(jwks["keys"][0]).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        token = hmac_signed(claims_of(verifier.genuine), public_pem, {**header, "alg": "HS256"})

    assert verifier.refuses(token)


class TamperingIssuer:
    """An issuer of its own in front of the real provider: its discovery document is the provider's, but
    the token endpoint is its own, which passes the exchange on to the provider and signs the ID token
    again with a key of its own (the claims unchanged but `iss`). The JWKS it names is its own key's
    (`publish_own_key`) or the provider's: only the first should let anyone in."""

    def __init__(self, provider, *, publish_own_key: bool):
        self.provider = provider
        self.publish_own_key = publish_own_key
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = requests.get(provider.discovery()["jwks_uri"], timeout=TIMEOUT).json()["keys"][0]["kid"]
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def discovery(self) -> dict:
        real = self.provider.discovery()
        jwks_uri = f"{self.issuer}/jwks" if self.publish_own_key else real["jwks_uri"]
        return {**real, "issuer": self.issuer, "token_endpoint": f"{self.issuer}/token", "jwks_uri": jwks_uri}

    def jwks(self) -> dict:
        public = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**public, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def exchange(self, body: bytes, headers: dict) -> dict:
        answer = requests.post(self.provider.discovery()["token_endpoint"], data=body, headers=headers, timeout=TIMEOUT)
        tokens = answer.json()
        if "id_token" in tokens:
            claims = {**jwt.decode(tokens["id_token"], options={"verify_signature": False}), "iss": self.issuer}
            tokens["id_token"] = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})
        return tokens

    def handler(self):
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                routes = {"/.well-known/openid-configuration": issuer.discovery, "/jwks": issuer.jwks}
                self.answer(routes[self.path]() if self.path in routes else {"error": "not_found"})

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                forwarded = {
                    name: self.headers[name] for name in ("Authorization", "Content-Type") if self.headers[name]
                }
                self.answer(issuer.exchange(body, forwarded))

            def answer(self, document: dict) -> None:
                payload = json.dumps(document).encode()
                self.send_response(404 if document.get("error") == "not_found" else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        return Handler

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("publish_own_key", [True, False], ids=["its own keys published", "the provider's keys"])
def test_the_callback_checks_the_id_token_against_the_published_keys(
    console, oidc_provider, acme, settings, publish_own_key
):
    issuer = TamperingIssuer(oidc_provider, publish_own_key=publish_own_key)
    try:
        settings.USAGE_UPSTREAM_ALLOWED_HOSTS = [provider_netloc(oidc_provider), urlsplit(issuer.issuer).netloc]
        client_id, client_secret = oidc_provider.add_client(callback_url(console, acme.organization))
        sso.save_settings(
            acme.membership("admin"),
            issuer=issuer.issuer,
            client_id=client_id,
            client_secret=client_secret,
            allowed_domains="acme.test",
            joining=INVITATION,
            default_role=None,
            required=False,
            enabled=True,
        )
        member = acme.users["engineer"]
        at_provider(oidc_provider, member.email)
        browser = requests.Session()

        walk = sso_sign_in(console, member.email, browser=browser)
    finally:
        issuer.stop()

    if publish_own_key:  # the control: everything else about the token is right
        assert walk.landing.url == f"{console}/overview/" and signed_in(browser, console)
    else:
        assert walk.landing.status_code == 401 and "Third-Party Login Failure" in walk.landing.text
        assert not signed_in(browser, console)
        assert not AuditEntry.objects.filter(action="auth.login").exists()


# 8. The settings page -------------------------------------------------------------------------------------


def settings_form(provider, client: tuple[str, str], **changes) -> dict:
    form = {
        "enabled": "on",
        "issuer": provider.issuer,
        "client_id": client[0],
        "client_secret": client[1],
        "allowed_domains": "acme.test",
        "joining": DEFAULT_ROLE,
        "default_role": "",
    }
    return {key: value for key, value in {**form, **changes}.items() if value is not None}


def test_an_issuer_on_this_machine_is_refused_unless_the_operator_allowed_it(oidc_provider, acme, settings):
    settings.USAGE_UPSTREAM_ALLOWED_HOSTS = []
    admin = Client()
    admin.force_login(acme.users["admin"])
    client = oidc_provider.add_client("http://127.0.0.1:9/accounts/sso/callback/")
    form = settings_form(oidc_provider, client, default_role=acme.roles["engineer"].pk)

    refused = admin.post(SETTINGS_PAGE, form)

    assert refused.status_code == 200
    assert "127.0.0.1 points to a loopback, private or otherwise internal address." in text(refused)
    assert not SingleSignOn.objects.exists()
    assert not AuditEntry.objects.filter(action="sso.updated").exists()

    settings.USAGE_UPSTREAM_ALLOWED_HOSTS = [provider_netloc(oidc_provider)]
    saved = admin.post(SETTINGS_PAGE, form)

    assert saved.status_code == 302 and saved["Location"] == SETTINGS_PAGE
    assert SingleSignOn.objects.get().issuer == oidc_provider.issuer


def test_an_address_without_a_discovery_document_is_refused(oidc_provider, acme, allow_provider):
    admin = Client()
    admin.force_login(acme.users["admin"])
    client = oidc_provider.add_client("http://127.0.0.1:9/accounts/sso/callback/")
    # The provider's root, not its issuer: nothing answers at /.well-known/openid-configuration there.
    form = settings_form(oidc_provider, client, issuer=oidc_provider.base_url, default_role=acme.roles["engineer"].pk)

    refused = admin.post(SETTINGS_PAGE, form)

    assert refused.status_code == 200
    assert "No OpenID Connect discovery document could be read" in text(refused)
    assert not SingleSignOn.objects.exists()


def stored_secret(config: SingleSignOn) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT client_secret FROM {SingleSignOn._meta.db_table} WHERE id = %s", [config.pk])
        return cursor.fetchone()[0]


def test_the_client_secret_is_stored_encrypted_and_never_shown(oidc_provider, acme, allow_provider):
    admin = Client()
    admin.force_login(acme.users["admin"])
    client = oidc_provider.add_client("http://127.0.0.1:9/accounts/sso/callback/")
    form = settings_form(oidc_provider, client, default_role=acme.roles["engineer"].pk)

    assert admin.post(SETTINGS_PAGE, form).status_code == 302
    config = SingleSignOn.objects.get()
    assert config.client_secret == client[1]
    assert client[1] not in stored_secret(config) and len(stored_secret(config)) > len(client[1])

    page = admin.get(SETTINGS_PAGE)
    assert page.status_code == 200 and config.client_id in page.content.decode()
    assert client[1] not in page.content.decode()
    # Re-shown after an error, the form does not echo the secret either.
    with_error = admin.post(SETTINGS_PAGE, {**form, "allowed_domains": "not a domain"})
    assert "is not a domain name" in text(with_error) and client[1] not in with_error.content.decode()
    # Saved again without a secret: the stored one stays.
    assert admin.post(SETTINGS_PAGE, {**form, "client_secret": ""}).status_code == 302
    assert SingleSignOn.objects.get().client_secret == client[1]
    assert AuditEntry.objects.filter(action="sso.updated").count() == 2
    assert client[1] not in str(list(AuditEntry.objects.values_list("details", flat=True)))


def test_a_role_without_members_edit_cannot_open_the_settings(oidc_provider, acme, allow_provider):
    engineer = Client()
    engineer.force_login(acme.users["engineer"])
    client = oidc_provider.add_client("http://127.0.0.1:9/accounts/sso/callback/")

    assert engineer.get(SETTINGS_PAGE).status_code == 403
    form = settings_form(oidc_provider, client, default_role=acme.roles["engineer"].pk)
    assert engineer.post(SETTINGS_PAGE, form).status_code == 403
    assert not SingleSignOn.objects.exists()


def test_a_narrower_role_with_members_edit_cannot_make_admin_the_default(oidc_provider, acme, allow_provider):
    people_lead = create_role(acme.membership("admin"), name="People lead", levels={"members": "edit"})
    lead = User.objects.create_user("lead@acme.test", PASSWORD, name="Lee Lead")
    membership = Membership.objects.create(user=lead, organization=acme.organization, role=people_lead)
    browser = Client()
    browser.force_login(lead)
    client = oidc_provider.add_client("http://127.0.0.1:9/accounts/sso/callback/")
    admin_role = acme.roles["admin"]

    page = browser.get(SETTINGS_PAGE)
    assert page.status_code == 200
    assert f'<option value="{admin_role.pk}"' not in page.content.decode()
    refused = browser.post(SETTINGS_PAGE, settings_form(oidc_provider, client, default_role=admin_role.pk))
    assert refused.status_code == 200 and "Select a valid choice" in text(refused)
    with pytest.raises(sso.RuleViolation, match="You cannot grant the role Admin"):
        sso.save_settings(
            membership,
            issuer=oidc_provider.issuer,
            client_id=client[0],
            client_secret=client[1],
            allowed_domains="acme.test",
            joining=DEFAULT_ROLE,
            default_role=admin_role,
            required=False,
            enabled=True,
        )
    assert not SingleSignOn.objects.exists()

    # A role within their own they may choose.
    saved = browser.post(SETTINGS_PAGE, settings_form(oidc_provider, client, default_role=people_lead.pk))
    assert saved.status_code == 302 and SingleSignOn.objects.get().default_role == people_lead


# 9. The lockout holds at this door too ----------------------------------------------------------------------


def test_a_locked_out_account_cannot_sign_in_with_the_provider(console, oidc_provider, acme, settings):
    settings.LOGIN_FAILURE_LIMIT = LIMIT = 5
    connect(acme, oidc_provider, console)
    member = acme.users["engineer"]
    at_provider(oidc_provider, member.email)
    attacker = Client()  # from another address: the account is locked, not the member's address
    for _ in range(LIMIT):
        attacker.post("/accounts/login/", {"login": member.email, "password": "wrong"}, REMOTE_ADDR="10.0.0.7")
    assert AuditEntry.objects.filter(action="auth.login_failed", target=member.email).count() == LIMIT
    browser = requests.Session()

    walk = sso_sign_in(console, member.email, browser=browser)

    refused_on_sign_in_page(walk, console, "Too many failed sign-in attempts.")
    assert not signed_in(browser, console)
    assert not AuditEntry.objects.filter(action="auth.login").exists()
    assert AuditEntry.objects.filter(action="auth.lockout", target=member.email).exists()
