"""Single sign-on with an organization's OpenID Connect identity provider, on django-allauth's
openid_connect provider.

Each organization's settings (accounts.models.SingleSignOn) become an allauth app on the fly, with the
client secret decrypted only then; nothing is copied into allauth's own tables. On top of allauth:
- the ID token's signature is always checked against the provider's published keys (allauth skips it when
  the token came straight from the token endpoint), and PKCE is always used;
- every request to the provider goes through the console's egress guard (usage.egress): an issuer URL an
  Admin typed cannot make the server reach its own networks;
- the address must be one the provider says it verified, in one of the organization's allowed domains;
- a person joins the organization on first sign-in only as the Admin chose (default role, or an invitation);
- a session opened this way opens that organization only (accounts.middleware): a provider's word about an
  address is trusted for its own organization, not for the person's other organizations.
"""

import functools

import jwt
import requests
from allauth.account.internal.flows.login import get_authentication_records
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.internal import jwtkit
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from allauth.socialaccount.providers.openid_connect.provider import OpenIDConnectProvider
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.contrib import messages
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from console.cache import cached
from console.refusals import RuleViolation
from usage import egress

from . import audit
from .backends import USERS
from .lockout import LockedOut, refuse_if_locked
from .models import Invitation, Membership, SingleSignOn, User
from .permissions import ADMIN
from .two_factor import api_refusal, open_paths

REQUEST_TIMEOUT = 10
# Asymmetric signatures only: a token "signed" with HS256 and the provider's public key as the secret, or not
# signed at all, is refused before any key is looked up.
ID_TOKEN_ALGORITHMS = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}


class SingleSignOnError(RuleViolation):
    """The provider cannot be used: unreachable, not OpenID Connect, or not the issuer it claims to be."""


# The provider as allauth sees it ------------------------------------------------------------------


def app_for(config: SingleSignOn) -> SocialApp:
    """An unsaved allauth app for the organization's provider (the secret decrypted for this request only)."""
    return SocialApp(
        provider="openid_connect",
        provider_id=config.provider_id,
        name=f"{config.organization.name} single sign-on",
        client_id=config.client_id,
        secret=config.client_secret,
        settings={"server_url": config.issuer, "oauth_pkce_enabled": True},
    )


def enabled_configs():
    return SingleSignOn.objects.filter(enabled=True).select_related("organization")


def organization_id_of(provider_id: str) -> int | None:
    prefix, _, organization_id = (provider_id or "").partition("-")
    return int(organization_id) if prefix == "org" and organization_id.isdigit() else None


def config_for_provider_id(provider_id: str) -> SingleSignOn | None:
    organization_id = organization_id_of(provider_id)
    return None if organization_id is None else enabled_configs().filter(organization_id=organization_id).first()


def config_for_email(email: str) -> SingleSignOn | None:
    """The enabled provider whose allowed domains hold this address's domain (domains are unique)."""
    domain = email.rpartition("@")[2].strip().lower()
    if not domain:
        return None
    return next((config for config in enabled_configs() if domain in config.domains), None)


class VerifyingAdapter(OpenIDConnectOAuth2Adapter):
    def _decode_id_token(self, app, id_token: str) -> dict:
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError:
            raise OAuth2Error("The ID token cannot be read.") from None
        if header.get("alg") not in ID_TOKEN_ALGORITHMS or not header.get("kid"):
            raise OAuth2Error("The ID token is not signed with one of the provider's keys.")
        return jwtkit.verify_and_decode(
            credential=id_token,
            keys_url=self.openid_config["jwks_uri"],
            issuer=self.openid_config["issuer"],
            audience=app.client_id,
            lookup_kid=jwtkit.lookup_kid_jwk,
            verify_signature=True,
        )

    def get_callback_url(self, request, app):
        return request.build_absolute_uri(reverse("sso_callback", args=[self.provider_id]))


class ConsoleOIDCProvider(OpenIDConnectProvider):
    """allauth's OpenID Connect provider with the checks above (SOCIALACCOUNT_PROVIDERS names it)."""

    oauth2_adapter_class = VerifyingAdapter


def login_view(request, provider_id):
    if config_for_provider_id(provider_id) is None:
        raise Http404("No such single sign-on.")
    return OAuth2LoginView.adapter_view(VerifyingAdapter(request, provider_id))(request)


@require_GET  # the provider redirects back with the code in the query string
def callback_view(request, provider_id):
    if config_for_provider_id(provider_id) is None:
        raise Http404("No such single sign-on.")
    return OAuth2CallbackView.adapter_view(VerifyingAdapter(request, provider_id))(request)


class ProviderAdapter(egress.GuardedAdapter):
    """The egress guard, its refusal reported as a connection error: allauth's callback turns those into its
    sign-in error page, and the entry page into a form error."""

    def send(self, request, **kwargs):
        try:
            return super().send(request, **kwargs)
        except egress.EgressRefused as error:
            raise requests.ConnectionError(str(error)) from None


def guarded_session():
    """A requests session for talking to identity providers: public addresses only, with a timeout."""
    session = requests.Session()
    session.mount("http://", ProviderAdapter())
    session.mount("https://", ProviderAdapter())
    session.request = functools.partial(session.request, timeout=REQUEST_TIMEOUT)
    return session


def check_issuer(issuer: str) -> dict:
    """Read the issuer's discovery document and make sure it describes that issuer; SingleSignOnError if not."""
    try:
        egress.check_url(issuer)
    except egress.EgressRefused as error:
        raise SingleSignOnError(str(error)) from None
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        with guarded_session() as session:
            response = session.get(url)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError):
        raise SingleSignOnError(f"No OpenID Connect discovery document could be read at {url}.") from None
    if not isinstance(document, dict) or document.get("issuer", "").rstrip("/") != issuer.rstrip("/"):
        raise SingleSignOnError("The discovery document names a different issuer; check the issuer URL.")
    missing = [key for key in ("authorization_endpoint", "token_endpoint", "jwks_uri") if not document.get(key)]
    if missing:
        raise SingleSignOnError(f"The discovery document lacks {', '.join(missing)}.")
    return document


# Who may come in ------------------------------------------------------------------------------------


def refuse(request, message: str):
    messages.error(request, message)
    raise ImmediateHttpResponse(redirect("account_login"))


def verified_email(sociallogin) -> str:
    for address in sociallogin.email_addresses:
        if address.verified and address.email:
            return User.objects.normalize_email(address.email)
    return ""


def admit(request, sociallogin) -> None:
    """Before allauth signs anyone in from a provider: apply the organization's rules (see the module)."""
    config = config_for_provider_id(sociallogin.account.provider)
    if config is None:
        refuse(request, "This single sign-on is not available any more.")
    organization = config.organization
    email = verified_email(sociallogin)
    if not email:
        refuse(request, f"{organization.name}'s identity provider did not confirm a verified email address.")
    try:
        refuse_if_locked(request, email)  # before anyone is made a member
    except LockedOut as error:
        refuse(request, error.message)
    if email.rpartition("@")[2] not in config.domains:
        refuse(
            request, f"{organization.name}'s single sign-on does not accept addresses at {email.rpartition('@')[2]}."
        )
    user = User.objects.filter(email=email).first()
    if sociallogin.is_existing and sociallogin.user.email != email:
        refuse(request, "This identity is linked to another address; ask an Admin of your organization.")
    if user is None:
        if config.joining == SingleSignOn.Joining.INVITATION and not pending_invitation(config, email):
            refuse(request, f"You need an invitation to join {organization.name}. Ask one of its Admins.")
        return  # allauth creates the account; SocialAccountAdapter.save_user makes them a member
    join(config, user, request=request)
    if not sociallogin.is_existing:
        sociallogin.connect(request, user)


def pending_invitation(config: SingleSignOn, email: str) -> Invitation | None:
    return Invitation.objects.pending().filter(organization=config.organization, email=email).first()


@transaction.atomic
def join(config: SingleSignOn, user: User, *, request=None) -> Membership:
    """The user's membership in the provider's organization, made on first sign-in as the Admin chose."""
    organization = config.organization
    membership = Membership.objects.filter(user=user, organization=organization).first()
    if membership is not None:
        return membership
    invitation = pending_invitation(config, user.email)
    if invitation is not None:
        role = invitation.role
        invitation.mark_accepted(user)
    elif config.joining == SingleSignOn.Joining.DEFAULT_ROLE and config.default_role is not None:
        role = config.default_role
    else:
        refuse(request, f"You need an invitation to join {organization.name}. Ask one of its Admins.")
    membership = Membership.objects.create(user=user, organization=organization, role=role)
    audit.record(
        "member.joined_by_sso",
        request=request,
        actor=user,
        organization=organization,
        target=user.email,
        role=role.name,
    )
    return membership


def session_organization_id(request) -> int | None:
    """The organization whose single sign-on opened this session, or None. Read from allauth's record of how
    the session authenticated, which is written before a second-factor step and kept after it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not hasattr(request, "session"):
        return None
    for record in get_authentication_records(request, user):
        if record.get("method") == "socialaccount":
            return organization_id_of(record.get("provider", ""))
    return None


def callback_url_for(request, config: SingleSignOn) -> str:
    """The redirect URI an Admin registers at the identity provider."""
    return request.build_absolute_uri(reverse("sso_callback", args=[config.provider_id]))


# The organization's requirement ---------------------------------------------------------------------


def required_for(organization_id: int) -> bool:
    return cached(
        USERS,
        f"sso-required:{organization_id}",
        lambda: SingleSignOn.objects.filter(organization_id=organization_id, enabled=True, required=True).exists(),
    )


def break_glass(request, membership) -> bool:
    """An Admin who signed in with their password and a second factor may open the organization without its
    provider (the way back in when the provider is down or misconfigured)."""
    methods = {record.get("method") for record in get_authentication_records(request, request.user)}
    return membership.role.builtin_key == ADMIN and "mfa" in methods


def held_back(request) -> bool:
    """True when the organization requires its single sign-on and this session did not come through it."""
    membership = getattr(request, "membership", None)
    return (
        membership is not None
        and required_for(membership.organization_id)
        and session_organization_id(request) != membership.organization_id
        and not break_glass(request, membership)
        and not request.path.startswith(open_paths())
    )


def send_to_provider(request):
    organization = request.membership.organization.name
    explanation = (
        f"{organization} requires its single sign-on. Sign out, then choose Sign in with single sign-on; "
        "until then you can switch to another organization or leave this one."
    )
    if refusal := api_refusal(request, explanation):
        return refusal
    return render(request, "accounts/sso_required.html", {"explanation": explanation}, status=403)


# The Admin's settings -----------------------------------------------------------------------------


def clean_domains(text: str) -> list[str]:
    domains = []
    for line in text.splitlines():
        domain = line.strip().lower().lstrip("@")
        if not domain:
            continue
        labels = domain.split(".")
        if len(labels) < 2 or not all(label and label.replace("-", "").isalnum() for label in labels):
            raise RuleViolation(f"{domain[:100]} is not a domain name (example.com).")
        domains.append(domain)
    if not domains:
        raise RuleViolation("Name at least one email domain.")
    return sorted(set(domains))


@transaction.atomic
def save_settings(
    actor: Membership,
    *,
    issuer: str,
    client_id: str,
    client_secret: str,
    allowed_domains: str,
    joining: str,
    default_role,
    required: bool,
    enabled: bool,
    request=None,
) -> SingleSignOn:
    """Connect the actor's organization to an identity provider, or change how it is used.

    `client_secret` empty keeps the stored one. The issuer's discovery document is read before anything is
    saved, so a typo is caught here rather than at the next sign-in."""
    from .services import can_grant  # services reads this module's join rules

    if not actor.can("members", "edit"):
        raise RuleViolation("Your role does not allow changing the organization's sign-in settings.")
    organization = actor.organization
    config = SingleSignOn.objects.select_for_update().filter(organization=organization).first()
    if config is None and not client_secret:
        raise RuleViolation("Enter the client secret the identity provider gave you.")
    domains = clean_domains(allowed_domains)
    taken = [
        domain
        for other in SingleSignOn.objects.filter(enabled=True).exclude(organization=organization)
        for domain in other.domains
        if domain in domains
    ]
    if enabled and taken:
        raise RuleViolation(f"{', '.join(taken)} is already used by another organization's single sign-on.")
    if joining == SingleSignOn.Joining.DEFAULT_ROLE and default_role is None:
        raise RuleViolation("Choose the role new members get, or require an invitation.")
    if default_role is not None and default_role.organization_id != organization.pk:
        raise RuleViolation("That role belongs to another organization.")
    if joining == SingleSignOn.Joining.DEFAULT_ROLE and not can_grant(actor, default_role):
        raise RuleViolation(f"You cannot grant the role {default_role.name}: it holds more than your own role.")
    if required and not enabled:
        raise RuleViolation("Single sign-on can be required only while it is enabled.")
    check_issuer(issuer)
    config = config or SingleSignOn(organization=organization)
    config.issuer = issuer.rstrip("/")
    config.client_id = client_id
    if client_secret:
        config.client_secret = client_secret
    config.allowed_domains = "\n".join(domains)
    config.joining = joining
    config.default_role = default_role if joining == SingleSignOn.Joining.DEFAULT_ROLE else None
    config.required = required
    config.enabled = enabled
    config.save()
    audit.record(
        "sso.updated",
        actor=actor,
        request=request,
        organization=organization,
        target=config.issuer,
        enabled=enabled,
        required=required,
        domains=domains,
        joining=joining,
        secret_changed=bool(client_secret),
    )
    return config
