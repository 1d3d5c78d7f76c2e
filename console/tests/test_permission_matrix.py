"""Every URL of the console x every built-in role, an anonymous visitor and an outsider.

The URL list comes from the resolver, so a new URL without an expectation here fails
`test_every_url_has_an_expectation`. Expectations are written out by hand, not derived from the views.
"""

import hashlib
import os
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from allauth.account.utils import user_pk_to_url_str
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from allauth.mfa.webauthn.internal.auth import WebAuthn
from cryptography.hazmat.primitives.asymmetric import ec
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from fido2.cose import ES256
from fido2.utils import websafe_encode
from fido2.webauthn import Aaguid, AttestationObject, AttestedCredentialData, AuthenticatorData, CollectedClientData

from accounts.api_credentials import create_credential
from accounts.models import Invitation, Membership, Notification, SingleSignOn, hash_token
from accounts.services import create_role, invite
from billing.models import PRICE_FIELDS, PriceBook, Statement, UsageAlert, invoice_number
from conftest import PASSWORD
from network.models import Call, KickingRule, QualityAlert
from usage.pulling import create_run

ROLES = ("admin", "finance", "product_operation", "cs_maintenance", "engineer")
EVERYONE = frozenset(ROLES)
NOBODY = frozenset()
HAS_TOTP = frozenset({"finance"})  # an authenticator app and recovery codes (give_factors)
HAS_SECURITY_KEY = frozenset({"admin"})
ADMIN_ONLY = frozenset({"admin"})
PROJECT_VIEWERS = frozenset({"admin", "product_operation", "cs_maintenance", "engineer"})
PROJECT_EDITORS = frozenset({"admin", "engineer"})
CERTIFICATE_MANAGERS = frozenset({"admin", "engineer"})
TOKEN_ISSUERS = frozenset({"admin", "engineer"})
BILLING = frozenset({"admin", "finance"})
CHANNEL_VIEWERS = frozenset({"admin", "product_operation", "cs_maintenance", "engineer"})
CHANNEL_MANAGERS = frozenset({"admin", "cs_maintenance", "engineer"})
CERTIFICATE_OPERATION_NAMES = (
    "enable_primary",
    "enable_secondary",
    "swap",
    "disable_secondary",
    "delete_secondary",
    "reset_primary",
    "require_tokens",
)
# Native API actions on a project: POST only.
NATIVE_PROJECT_ACTIONS = [f"api_project_{action}" for action in ("enable", "disable", "archive", "unarchive")]
NATIVE_PROJECT_ACTIONS += [f"api_certificate_{operation}" for operation in CERTIFICATE_OPERATION_NAMES]


@dataclass(frozen=True)
class Expect:
    """Who may open a URL with GET. Others in the organization get `denied`."""

    allowed: frozenset = EVERYONE
    ok: int = 200  # status for allowed members
    denied: int = 403
    anonymous: int = 302  # the sign-in redirect
    object_url: bool = False  # outsiders (another organization's Admin) get 404
    outsider: int | None = None  # overrides the outsider's status
    overrides: dict = field(default_factory=dict)  # role -> status
    to: str | None = None  # URL name that a signed-in caller's 302 leads to, when it matters
    anonymous_to: str = "account_login"  # where an anonymous visitor's 302 leads


PUBLIC = Expect(anonymous=200, outsider=None)


def same_for_everyone(status: int) -> Expect:
    return Expect(ok=status, denied=status, anonymous=status, outsider=status)


EXPECTATIONS: dict[str, Expect] = {
    "home": Expect(ok=302, to="overview", anonymous_to="overview"),
    "healthz": PUBLIC,
    "readyz": PUBLIC,
    # /metrics answers 404 while METRICS_TOKEN is empty (as here), whoever asks; a session never opens it.
    "metrics": Expect(ok=404, denied=404, anonymous=404, outsider=404),
    "overview": Expect(),
    # Sign-in, sign-up and sign-out (django-allauth): open to everyone; signed-in users are sent on from
    # sign-in and sign-up. Sign-out asks first (GET shows the confirmation, POST signs out).
    "account_login": Expect(ok=302, anonymous=200, to="overview"),
    "account_signup": Expect(ok=302, anonymous=200, to="overview"),
    "account_logout": Expect(),
    "account_inactive": PUBLIC,  # allauth's "this account is inactive"; it names no account
    "account_email_verification_sent": PUBLIC,  # "check your mail", the same for every address
    "account_confirm_email": PUBLIC,  # a key that names nothing: "this link is not valid"
    # Sign-in by a mailed code is off: the confirmation page has no code to confirm and sends on.
    "account_confirm_login_code": Expect(ok=302, to="overview"),
    # The address is the sign-in: allauth's address book is not offered to anyone.
    "account_email": Expect(allowed=NOBODY, denied=404, anonymous=404),
    # Passwords: reset for everyone (a key that names nothing: "this link is not valid"); changing one's own
    # password for members. Everyone here has a password, so "set a password" leads to changing it.
    "account_change_password": Expect(),
    "account_set_password": Expect(ok=302, to="account_change_password"),
    "account_reset_password": Expect(anonymous=200),
    "account_reset_password_done": Expect(anonymous=200),
    "account_reset_password_from_key": Expect(anonymous=200),
    "account_reset_password_from_key_done": Expect(anonymous=200),
    "profile": Expect(),
    # Re-authentication takes the password or a second factor, never a mailed code (refused for everyone).
    "account_reauthenticate": Expect(),
    "account_request_reauthentication_code": Expect(allowed=NOBODY),
    "account_confirm_reauthentication_code": Expect(allowed=NOBODY),
    # Two-factor (allauth.mfa). In `objects` below Acme's Finance member has an authenticator app and recovery
    # codes, Acme's Admin a security key, nobody else a factor. Whatever adds, changes, removes or shows a
    # factor first asks to re-authenticate (the test client's sign-in is not a recent one); a factor one does
    # not have is 404.
    "mfa_index": Expect(),
    "mfa_authenticate": Expect(ok=302, to="overview"),  # the second step of a sign-in none started
    "mfa_login_webauthn": Expect(ok=302, to="overview"),  # a passkey sign-in is posted from the sign-in page
    "mfa_reauthenticate": Expect(allowed=HAS_TOTP, denied=302, to="account_reauthenticate"),
    "mfa_reauthenticate_webauthn": Expect(
        allowed=HAS_SECURITY_KEY, denied=302, outsider=302, to="account_reauthenticate"
    ),
    "mfa_activate_totp": Expect(ok=302, to="account_reauthenticate"),
    **dict.fromkeys(
        ["mfa_deactivate_totp", "mfa_view_recovery_codes", "mfa_download_recovery_codes"],
        Expect(allowed=HAS_TOTP, ok=302, denied=404, to="account_reauthenticate"),
    ),
    "mfa_generate_recovery_codes": Expect(ok=302, to="account_reauthenticate"),
    "mfa_list_webauthn": Expect(),
    "mfa_add_webauthn": Expect(ok=302, to="account_reauthenticate"),
    # Acme's Admin's security key: re-authentication comes first, for anyone (after it, only its owner
    # reaches it: test_a_security_key_is_its_owners_only).
    "mfa_edit_webauthn": Expect(ok=302, to="account_reauthenticate"),
    "mfa_remove_webauthn": Expect(ok=302, to="account_reauthenticate"),
    # Single sign-on: the console's entry page and callback (accounts.sso), allauth's pages for third-party
    # sign-ins around them. The callback in `objects` is Globex's provider, with no sign-in under way: allauth's
    # "sign-in failed" page (401), whoever asks.
    "sso_entry": PUBLIC,
    "sso_callback": same_for_everyone(401),
    "single_sign_on_settings": Expect(allowed=ADMIN_ONLY),
    # allauth's page for linking third-party sign-ins: its "add" links are allauth's own provider routes, not
    # offered (above), and its "remove" would unlink an identity behind accounts.sso's back: not offered either.
    "socialaccount_connections": same_for_everyone(404),
    "socialaccount_signup": same_for_everyone(404),  # accounts.sso decides who joins: no sign-up form
    "socialaccount_login_cancelled": PUBLIC,
    "socialaccount_login_error": same_for_everyone(401),
    # Organizations
    "create_organization": Expect(),
    "switch_organization": Expect(ok=405),
    "leave_organization": Expect(),  # GET asks to confirm; the owner and the last Admin are refused on POST
    "organization_settings": Expect(allowed=ADMIN_ONLY),
    # Members, invitations and roles
    "members": Expect(allowed=ADMIN_ONLY),
    "invitations": Expect(allowed=ADMIN_ONLY),
    "invite_member": Expect(allowed=ADMIN_ONLY),
    "change_member_role": Expect(allowed=ADMIN_ONLY, object_url=True),
    "remove_member": Expect(allowed=ADMIN_ONLY, object_url=True),
    "make_owner": Expect(allowed=ADMIN_ONLY, object_url=True),  # Acme's Admin is its owner
    "resend_invitation": Expect(allowed=ADMIN_ONLY, object_url=True),
    "revoke_invitation": Expect(allowed=ADMIN_ONLY, object_url=True),
    "roles": Expect(allowed=ADMIN_ONLY),
    "create_role": Expect(allowed=ADMIN_ONLY),
    "edit_role": Expect(allowed=ADMIN_ONLY, object_url=True),
    "delete_role": Expect(allowed=ADMIN_ONLY, object_url=True),
    # The invitation link is for the invited person: members signed in as someone else are refused.
    "accept_invitation": Expect(ok=403, anonymous=200, outsider=403),
    "audit_log": Expect(allowed=frozenset({"admin", "cs_maintenance"})),
    "audit_log_csv": Expect(allowed=frozenset({"admin", "cs_maintenance"})),
    "api_credentials": Expect(allowed=frozenset({"admin", "engineer"})),
    "delete_api_credential": Expect(allowed=frozenset({"admin", "engineer"}), object_url=True),
    "projects:list": Expect(allowed=PROJECT_VIEWERS),
    "projects:create": Expect(allowed=PROJECT_EDITORS),
    "projects:detail": Expect(allowed=PROJECT_VIEWERS, object_url=True),
    "projects:edit": Expect(allowed=PROJECT_EDITORS, object_url=True),
    "projects:action": Expect(allowed=PROJECT_EDITORS, object_url=True),
    "projects:rotation": Expect(allowed=CERTIFICATE_MANAGERS, object_url=True),
    "projects:certificate_operation": Expect(allowed=CERTIFICATE_MANAGERS, object_url=True),
    "tokens:temp_token": Expect(allowed=frozenset({"admin", "engineer"}), object_url=True),
    "tokens:inspector": Expect(allowed=PROJECT_VIEWERS),
    # The native API: anonymous callers get 401 with {"message": ...}; issuing tokens is POST.
    "api_tokens": Expect(ok=405, allowed=TOKEN_ISSUERS, anonymous=401, outsider=405),
    "api_community_rtc_token": Expect(allowed=TOKEN_ISSUERS, anonymous=401, object_url=True),
    "api_community_rtm_token": Expect(allowed=TOKEN_ISSUERS, anonymous=401, object_url=True),
    # The native API's other endpoints (every method and role: test_api_permission_matrix.py). A GET on a
    # POST-only path is 405 for any signed-in caller.
    "api_projects": Expect(allowed=PROJECT_VIEWERS, anonymous=401),
    "api_project": Expect(allowed=PROJECT_VIEWERS, anonymous=401, object_url=True),
    "api_certificates": Expect(allowed=CERTIFICATE_MANAGERS, anonymous=401, object_url=True),
    **dict.fromkeys(
        [*NATIVE_PROJECT_ACTIONS, "api_certificate_reveal"], Expect(ok=405, denied=405, anonymous=401, outsider=405)
    ),
    "api_usage_daily": Expect(anonymous=401),
    "api_usage_summary": Expect(anonymous=401),
    "api_estimate": Expect(allowed=BILLING, anonymous=401),
    "api_statements": Expect(allowed=BILLING, anonymous=401),
    "api_statement": Expect(allowed=BILLING, anonymous=401, object_url=True),
    "api_transactions": Expect(allowed=BILLING, anonymous=401),
    "api_members": Expect(allowed=ADMIN_ONLY, anonymous=401),
    "api_member": Expect(allowed=ADMIN_ONLY, anonymous=401, object_url=True),
    "api_roles": Expect(allowed=ADMIN_ONLY, anonymous=401),
    "api_role": Expect(allowed=ADMIN_ONLY, anonymous=401, object_url=True),
    "api_audit": Expect(allowed=frozenset({"admin", "cs_maintenance"}), anonymous=401),
    # Agora's RESTful API paths (/dev/...): 401 for anonymous callers; GET without parameters is 400;
    # a GET on a POST-only path is 405 for any signed-in caller.
    "agora_projects": Expect(allowed=PROJECT_VIEWERS, anonymous=401),
    "agora_project": Expect(ok=400, allowed=PROJECT_VIEWERS, anonymous=401),
    **dict.fromkeys(
        ["agora_project_status", "agora_recording_config", "agora_signkey", "agora_reset_signkey"],
        Expect(ok=405, denied=405, anonymous=401, outsider=405),
    ),
    "agora_usage": Expect(ok=400, anonymous=401),
    # Channel queries name a project by App ID: another organization's is "invalid appid" (400).
    **dict.fromkeys(
        ["agora_channels", "agora_channel_users", "agora_channel_hosts", "agora_channel_user_property"],
        Expect(allowed=CHANNEL_VIEWERS, anonymous=401, outsider=400),
    ),
    # Kicking rules: GET without appid is 400 (changes: network/tests/test_kicking_api.py, every role).
    "agora_kicking_rule": Expect(ok=400, allowed=CHANNEL_VIEWERS, anonymous=401),
    "api_kicking_rules": Expect(allowed=CHANNEL_VIEWERS, anonymous=401, object_url=True),
    # Call analytics (/beta/...): GET without appid is 400; another organization's App ID too.
    **dict.fromkeys(
        ["agora_call_lists", "agora_call_sessions", "agora_call_metrics"],
        Expect(ok=400, allowed=CHANNEL_VIEWERS, anonymous=401),
    ),
    # The call inspector's native API; metrics without uids is 400.
    **dict.fromkeys(
        ["api_calls", "api_call", "api_channels", "api_channel"],
        Expect(allowed=CHANNEL_VIEWERS, anonymous=401, object_url=True),
    ),
    "api_call_metrics": Expect(ok=400, allowed=CHANNEL_VIEWERS, anonymous=401, object_url=True),
    "api_kicking_rule": Expect(allowed=CHANNEL_VIEWERS, anonymous=401, object_url=True),
    # The sandbox upstream takes HTTP Basic credentials of a sandbox upstream, never a session.
    "sandbox_projects": Expect(ok=401, denied=401, anonymous=401, outsider=401),
    "sandbox_usage": Expect(ok=401, denied=401, anonymous=401, outsider=401),
    **dict.fromkeys(
        [
            "sandbox_channels",
            "sandbox_channel_users",
            "sandbox_channel_hosts",
            "sandbox_channel_user_property",
            "sandbox_kicking_rules",
            "sandbox_call_lists",
            "sandbox_call_sessions",
            "sandbox_call_metrics",
        ],
        same_for_everyone(401),
    ),
    # Agora's notifications: a signed POST from Agora, never a session; a GET is 405 for everyone.
    "network:agora_notification": same_for_everyone(405),
    "channels:index": Expect(allowed=CHANNEL_VIEWERS),
    "channels:channel": Expect(allowed=CHANNEL_VIEWERS, object_url=True),
    "channels:call": Expect(allowed=CHANNEL_VIEWERS, object_url=True),
    "channels:quality_alerts": Expect(allowed=CHANNEL_VIEWERS, object_url=True),
    "channels:delete_quality_alert": Expect(allowed=CHANNEL_MANAGERS, object_url=True),
    **dict.fromkeys(
        ["channels:kick", "channels:new_rule", "channels:extend_rule", "channels:remove_rule"],
        Expect(allowed=CHANNEL_MANAGERS, object_url=True),
    ),
    **dict.fromkeys(
        ["channels:live", "channels:calls", "channels:quality", "channels:notifications"],
        Expect(allowed=CHANNEL_VIEWERS, object_url=True),
    ),
    # A project's notifications (webhooks): disable and rotate ask first (GET shows the question); enable, check
    # and reveal are POST only (test_notification_page.py posts them as every role).
    **dict.fromkeys(
        ["channels:notifications_disable", "channels:notifications_rotate"],
        Expect(allowed=CHANNEL_MANAGERS, object_url=True),
    ),
    **dict.fromkeys(
        ["channels:notifications_enable", "channels:notifications_check", "channels:notifications_reveal"],
        Expect(ok=405, denied=405, anonymous=405, outsider=405),
    ),
    "api_project_notifications": Expect(allowed=CHANNEL_VIEWERS, anonymous=401, object_url=True),
    "api_schema": PUBLIC,
    "api_docs": PUBLIC,
    # Revealing is POST only (it writes an audit entry); POST is checked below.
    "projects:reveal_certificate": Expect(ok=405, denied=405, anonymous=405, outsider=405),
    "usage:overview": Expect(allowed=EVERYONE),
    "usage:export": Expect(allowed=EVERYONE),
    "usage:settings": Expect(allowed=ADMIN_ONLY),
    "usage:test_connection": Expect(ok=405, denied=405, anonymous=405, outsider=405),  # POST only
    "usage:mappings": Expect(allowed=ADMIN_ONLY),
    "usage:sync": Expect(allowed=EVERYONE),
    "usage:run_status": Expect(allowed=EVERYONE, object_url=True),
    # Billing: Admin and Finance (billing view to read, billing manage to change; both have manage).
    "billing:overview": Expect(allowed=BILLING),
    "billing:estimate": Expect(allowed=BILLING),
    "billing:statements": Expect(allowed=BILLING),
    "billing:statements_csv": Expect(allowed=BILLING),
    "billing:invoice": Expect(allowed=BILLING, object_url=True),
    "billing:invoice_pdf": Expect(allowed=BILLING, object_url=True),
    "billing:transactions": Expect(allowed=BILLING),
    "billing:transactions_csv": Expect(allowed=BILLING),
    "billing:record_payment": Expect(allowed=BILLING),
    "billing:record_correction": Expect(allowed=BILLING),
    "billing:details": Expect(allowed=BILLING),
    "billing:price_books": Expect(allowed=BILLING),
    "billing:create_price_book": Expect(allowed=BILLING),
    "billing:edit_price_book": Expect(allowed=BILLING, object_url=True),
    "billing:delete_price_book": Expect(allowed=BILLING, object_url=True),
    "billing:alerts": Expect(allowed=BILLING),
    "billing:delete_alert": Expect(allowed=BILLING, object_url=True),
    # Notifications are each member's own: another member's notification is 404.
    "notifications": Expect(),
    "mark_all_notifications_read": Expect(ok=405, denied=405, anonymous=405, outsider=405),  # POST only
    "open_notification": Expect(allowed=frozenset({"admin"}), ok=302, denied=404, object_url=True),
}

# State-changing URLs: a POST by a role without the right level is refused and changes nothing.
POST_ONLY_ADMIN = [
    "invite_member",
    "change_member_role",
    "remove_member",
    "make_owner",
    "resend_invitation",
    "revoke_invitation",
    "create_role",
    "edit_role",
    "delete_role",
    "organization_settings",
]


def console_url_names(resolver=None, namespace="") -> set[str]:
    """Every named URL of the console, except the Django admin's own (superusers only, tested apart)."""
    names = set()
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            if entry.app_name == "admin":
                continue
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            names |= console_url_names(entry, inner)
        elif isinstance(entry, URLPattern) and entry.name:
            names.add(f"{namespace}{entry.name}")
    return names


def test_every_url_has_an_expectation():
    missing = console_url_names() - set(EXPECTATIONS)
    assert not missing, f"Add these URLs to EXPECTATIONS in {__file__}: {sorted(missing)}"
    stale = set(EXPECTATIONS) - console_url_names()
    assert not stale, f"These expectations name URLs that no longer exist: {sorted(stale)}"


def kicking_rule(acme) -> KickingRule:
    """A ban in force on Acme's first project."""
    expires_at = timezone.now() + timedelta(hours=1)
    return KickingRule.objects.create(
        project=acme.projects[0], upstream_id=1, uid=42, privileges=["join_channel"], expires_at=expires_at
    )


def a_call(acme) -> Call:
    """An ended call of Acme's first project, known from Agora Analytics (no users pulled)."""
    started_at = timezone.now() - timedelta(hours=1)
    return Call.objects.create(
        project=acme.projects[0],
        channel_name="room-42",
        call_id="65a1b2c3d4e5f60718293a4b",
        started_at=started_at,
        ended_at=started_at + timedelta(minutes=20),
    )


def quality_alert(acme) -> QualityAlert:
    return QualityAlert.objects.create(
        project=acme.projects[0], metric="video_freeze_rate", threshold_percent=Decimal("5"), window_minutes=10
    )


@pytest.fixture
def objects(acme, globex):
    """One object of Acme for each kind of URL argument (Globex's for single sign-on), and Acme's factors."""
    admin = acme.membership("admin")
    security_key = give_factors(acme)
    custom = create_role(admin, name="Auditors", levels={"audit": "view"})
    invitation = invite(admin, "newcomer@example.test", acme.roles["finance"])
    token = "matrix-token"
    Invitation.objects.filter(pk=invitation.pk).update(token_hash=hash_token(token))
    project_id = acme.projects[0].project_id
    return {
        "projects:detail": {"project_id": project_id},
        "network:agora_notification": {"project_id": project_id},
        "agora_channels": {"appid": acme.projects[0].app_id},
        "channels:channel": {"project_id": project_id, "channel_name": "room-42"},
        "channels:call": {"project_id": project_id, "call": a_call(acme).call_id},
        "api_calls": {"project_id": project_id},
        "api_channels": {"project_id": project_id},
        "api_channel": {"project_id": project_id, "channel_name": "room-42"},
        **dict.fromkeys(["api_call", "api_call_metrics"], {"project_id": project_id, "id": "65a1b2c3d4e5f60718293a4b"}),
        "channels:kick": {"project_id": project_id, "channel_name": "room-42", "uid": 42},
        "channels:new_rule": {"project_id": project_id},
        "channels:quality_alerts": {"project_id": project_id},
        "channels:delete_quality_alert": {"project_id": project_id, "pk": quality_alert(acme).pk},
        **dict.fromkeys(
            ["channels:extend_rule", "channels:remove_rule"], {"project_id": project_id, "pk": kicking_rule(acme).pk}
        ),
        "agora_channel_users": {"appid": acme.projects[0].app_id, "channel_name": "room-42"},
        "agora_channel_hosts": {
            "appid": acme.projects[0].app_id,
            "channel_name": "room-42",
            "hosts_only": "hosts_only",
        },
        "agora_channel_user_property": {"appid": acme.projects[0].app_id, "uid": "42", "channel_name": "room-42"},
        "sandbox_channels": {"appid": acme.projects[0].app_id},
        "sandbox_channel_users": {"appid": acme.projects[0].app_id, "channel_name": "room-42"},
        "sandbox_channel_hosts": {
            "appid": acme.projects[0].app_id,
            "channel_name": "room-42",
            "hosts_only": "hosts_only",
        },
        "sandbox_channel_user_property": {"appid": acme.projects[0].app_id, "uid": "42", "channel_name": "room-42"},
        **dict.fromkeys(
            ["channels:live", "channels:calls", "channels:quality", "channels:notifications"],
            {"project_id": project_id},
        ),
        **dict.fromkeys(
            [f"channels:notifications_{action}" for action in ("enable", "disable", "rotate", "check", "reveal")],
            {"project_id": project_id},
        ),
        "api_project_notifications": {"project_id": project_id},
        "api_kicking_rules": {"project_id": project_id},
        "api_kicking_rule": {"project_id": project_id, "rule_id": kicking_rule(acme).pk},
        "projects:edit": {"project_id": project_id},
        "projects:action": {"project_id": project_id, "action": "disable"},
        "projects:rotation": {"project_id": project_id},
        "projects:certificate_operation": {"project_id": project_id, "operation": "enable_secondary"},
        "projects:reveal_certificate": {"project_id": project_id, "slot": "primary"},
        "tokens:temp_token": {"project_id": project_id},
        "usage:run_status": {
            "pk": create_run(acme.organization, date(2026, 1, 1), date(2026, 1, 2), trigger="console").pk
        },
        "api_tokens": {"project_id": project_id},
        "api_community_rtc_token": {
            "project_id": project_id,
            "channel": "demo",
            "role": "publisher",
            "id_type": "uid",
            "user": "42",
        },
        "api_community_rtm_token": {"project_id": project_id, "user_id": "someone"},
        **dict.fromkeys(["api_project", "api_certificates", *NATIVE_PROJECT_ACTIONS], {"project_id": project_id}),
        "api_certificate_reveal": {"project_id": project_id, "slot": "primary"},
        "api_statement": {"number": invoice_number(date(2026, 1, 1), 1)},  # made by billing_objects below
        "api_member": {"pk": acme.membership("engineer").pk},
        "api_role": {"pk": custom.pk},
        "delete_api_credential": {"pk": create_credential(admin).credential.pk},
        "change_member_role": {"pk": acme.membership("engineer").pk},
        "remove_member": {"pk": acme.membership("engineer").pk},
        "make_owner": {"pk": acme.membership("finance").pk},  # not the member remove_member removes
        "resend_invitation": {"pk": invitation.pk},
        "revoke_invitation": {"pk": invitation.pk},
        "edit_role": {"pk": custom.pk},
        "delete_role": {"pk": custom.pk},
        "accept_invitation": {"token": token},
        **billing_objects(acme),
        "account_confirm_email": {"key": "not-a-key"},
        "account_reset_password_from_key": {"uidb36": user_pk_to_url_str(acme.users["finance"]), "key": "not-a-key"},
        "mfa_edit_webauthn": {"pk": security_key.pk},
        "mfa_remove_webauthn": {"pk": security_key.pk},
        "sso_callback": {"provider_id": single_sign_on(globex).provider_id},
    }


def give_factors(acme) -> Authenticator:
    """Acme's Finance member: an authenticator app and recovery codes. Its Admin: a security key (returned)."""
    TOTP.activate(acme.users["finance"], generate_totp_secret())
    RecoveryCodes.activate(acme.users["finance"])
    return WebAuthn.add(acme.users["admin"], "Security key", security_key_credential()).instance


def security_key_credential(rp_id: str = "testserver") -> dict:
    """What a browser posts when a security key registers: a new P-256 key, attestation "none"."""
    raw_id = os.urandom(16)
    public_key = ES256.from_cryptography_key(ec.generate_private_key(ec.SECP256R1()).public_key())
    credential = AttestedCredentialData.create(Aaguid.NONE, raw_id, public_key)
    flags = AuthenticatorData.FLAG.UP | AuthenticatorData.FLAG.AT
    authenticator_data = AuthenticatorData.create(hashlib.sha256(rp_id.encode()).digest(), flags, 0, credential)
    client_data = CollectedClientData.create("webauthn.create", os.urandom(32), f"http://{rp_id}")
    attestation = AttestationObject.create("none", authenticator_data, {})
    return {
        "id": websafe_encode(raw_id),
        "rawId": websafe_encode(raw_id),
        "type": "public-key",
        "response": {"clientDataJSON": websafe_encode(client_data), "attestationObject": websafe_encode(attestation)},
        "clientExtensionResults": {},
    }


def single_sign_on(org) -> SingleSignOn:
    """An identity provider for the organization, not required (what accounts.sso.save_settings stores)."""
    return SingleSignOn.objects.create(
        organization=org.organization,
        issuer=f"https://sso.{org.organization.name.lower()}.test",
        client_id="console",
        client_secret="not-a-secret",
        allowed_domains=f"{org.organization.name.lower()}.test",
    )


def billing_objects(acme) -> dict:
    """A statement, an organization price book, a usage alert and a notification (for Acme's Admin)."""
    organization = acme.organization
    book = PriceBook.objects.create(
        organization=organization, effective_from=date(2030, 1, 1), **{f: Decimal(1) for f in PRICE_FIELDS.values()}
    )
    statement = Statement.objects.create(
        organization=organization,
        month=date(2026, 1, 1),
        sequence=1,
        number=invoice_number(date(2026, 1, 1), 1),
        price_book=PriceBook.book_for(organization, date(2026, 1, 1)),
        currency="USD",
        due_date=date(2026, 2, 6),
        usage_seconds={},
        total_minutes=0,
        usage_total=Decimal(0),
        adjustments_total=Decimal(0),
        total=Decimal(0),
    )
    alert = UsageAlert.objects.create(organization=organization, metric="minutes", threshold=Decimal(1000))
    notification = Notification.objects.create(
        organization=organization, recipient=acme.users["admin"], title="Alert", link="/billing/"
    )
    return {
        "billing:invoice": {"number": statement.number},
        "billing:invoice_pdf": {"number": statement.number},
        "billing:edit_price_book": {"pk": book.pk},
        "billing:delete_price_book": {"pk": book.pk},
        "billing:delete_alert": {"pk": alert.pk},
        "open_notification": {"pk": notification.pk},
    }


def expected_target(expect: Expect, who: str) -> str | None:
    """The URL name a 302 should lead to (None: not checked)."""
    return expect.anonymous_to if who == "anonymous" else expect.to


def expected_status(expect: Expect, who: str) -> int:
    if who == "anonymous":
        return expect.anonymous
    if who == "outsider":
        if expect.outsider is not None:
            return expect.outsider
        if expect.object_url:
            return 404
        return expect.ok if "admin" in expect.allowed else expect.denied
    if who in expect.overrides:
        return expect.overrides[who]
    return expect.ok if who in expect.allowed else expect.denied


@pytest.mark.parametrize("who", ["anonymous", "outsider", *ROLES])
def test_get_every_url(who, acme, globex, objects, client):
    client.raise_request_exception = False  # a server error is one more line of the report below
    if who == "outsider":
        client.force_login(globex.users["admin"])
    elif who != "anonymous":
        client.force_login(acme.users[who])
    failures = []
    for name in sorted(EXPECTATIONS):
        url = reverse(name, kwargs=objects.get(name, {}))
        response = client.get(url)
        status = response.status_code
        expected = expected_status(EXPECTATIONS[name], who)
        target = expected_target(EXPECTATIONS[name], who)
        if status != expected:
            got = f"{status} {response.get('Location', '')}".strip()
            failures.append(f"GET {url} ({name}) as {who}: {got}, expected {expected}")
        elif status == 302 and target and urlsplit(response["Location"]).path != reverse(target):
            failures.append(f"GET {url} ({name}) as {who}: to {response['Location']}, expected {reverse(target)}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("who", ["outsider", *ROLES])
def test_post_state_changes_need_members_edit(who, acme, globex, objects, client):
    client.force_login(globex.users["admin"] if who == "outsider" else acme.users[who])
    memberships_before = Membership.objects.count()
    for name in POST_ONLY_ADMIN:
        url = reverse(name, kwargs=objects.get(name, {}))
        status = client.post(url, {}).status_code
        if who == "admin":
            assert status in (200, 302), f"POST {name} as admin: {status}"
        else:
            expected = 404 if (who == "outsider" and EXPECTATIONS[name].object_url) else 403
            if who == "outsider" and not EXPECTATIONS[name].object_url:
                continue  # the outsider acts on their own organization there
            assert status == expected, f"POST {name} as {who}: {status}, expected {expected}"
    if who != "admin":
        assert Membership.objects.count() == memberships_before


def test_django_admin_is_for_superusers_only(acme, client):
    client.force_login(acme.users["admin"])  # an organization Admin is not a superuser
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    acme.users["admin"].is_staff = acme.users["admin"].is_superuser = True
    acme.users["admin"].save()
    assert client.get("/admin/").status_code == 200


def reauthenticate(client) -> None:
    """Enter the password again, as allauth asks before changes to one's factors."""
    response = client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:500]


def sign_in_recently(client, user) -> None:
    """Signed in and just re-authenticated: allauth then opens the pages that add or change a second factor."""
    client.force_login(user)
    reauthenticate(client)


@pytest.mark.parametrize("who", ["outsider", *ROLES])
def test_a_security_key_is_its_owners_only(who, acme, globex, objects, client):
    """Past re-authentication, Acme's Admin reaches their security key; nobody else finds it, nor removes it."""
    client.force_login(globex.users["admin"] if who == "outsider" else acme.users[who])
    reauthenticate(client)
    key = objects["mfa_edit_webauthn"]
    edit = client.get(reverse("mfa_edit_webauthn", kwargs=key))
    remove = client.post(reverse("mfa_remove_webauthn", kwargs=key))
    if who in HAS_SECURITY_KEY:
        assert (edit.status_code, remove.status_code) == (200, 302)
        assert not Authenticator.objects.filter(pk=key["pk"]).exists()
    else:
        assert (edit.status_code, remove.status_code) == (404, 404)
        assert Authenticator.objects.filter(pk=key["pk"]).exists()


PROJECT_POSTS = {
    # URL name: (roles allowed, status when allowed)
    "projects:reveal_certificate": (frozenset({"admin", "engineer"}), 200),
    "projects:certificate_operation": (CERTIFICATE_MANAGERS, 302),
    "projects:action": (PROJECT_EDITORS, 302),
    "projects:edit": (PROJECT_EDITORS, 200),  # empty form: shown again with errors
}


@pytest.mark.parametrize("who", ["outsider", *ROLES])
def test_post_project_urls(who, acme, globex, objects, client):
    client.force_login(globex.users["admin"] if who == "outsider" else acme.users[who])
    secret = acme.projects[0].primary.value
    for name, (allowed, ok) in PROJECT_POSTS.items():
        url = reverse(name, kwargs=objects[name])
        response = client.post(url, {"version": acme.projects[0].certificates_version})
        expected = 404 if who == "outsider" else ok if who in allowed else 403
        assert response.status_code == expected, f"POST {name} as {who}: {response.status_code}, expected {expected}"
        if who not in allowed:
            assert secret not in response.content.decode()


USAGE_MANAGE_POSTS = ["usage:settings", "usage:mappings", "usage:sync", "usage:test_connection"]


@pytest.mark.parametrize("who", ROLES)
def test_only_usage_managers_change_usage_settings_or_start_backfills(who, acme, objects, client):
    client.force_login(acme.users[who])
    for name in USAGE_MANAGE_POSTS:
        status = client.post(reverse(name), {}).status_code
        if who == "admin":
            assert status in (200, 302), f"POST {name} as admin: {status}"
        else:
            assert status == 403, f"POST {name} as {who}: {status}, expected 403"
