"""Issuing tokens for stored projects: one entry point for the console, the CLI and the API.

`build_token` validates the request with the documented input rules, checks that the project may have
tokens issued (projects.services.check_can_issue_tokens) and signs with the primary certificate. Every token
signed for a stored project is counted against its certificate (projects.certificate_use), so a rotation can
tell when the old certificate's tokens have expired; the token itself is never stored.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest

from accounts import audit
from accounts.models import Membership
from console import metrics
from projects import certificate_use
from projects.models import Project
from projects.services import check_can_issue_tokens

from . import accesstoken2 as at2
from . import rules
from .grants import TokenGrant, describe, describe_legacy

# Registered with accounts.audit when the app starts (apps.py).
AUDIT_ACTIONS = {"token.generated": "Temp token generated"}

KINDS = {
    "rtc": "RTC",
    "rtm": "RTM",
    "rtm2": "RTM with permissions",
    "rtc_rtm": "RTC + RTM",
    "chat_app": "Chat app token",
    "chat_user": "Chat user token",
}
# RTC + RTM: an expiry per privilege (Agora's build_token_with_rtm2); each defaults to privilege_expire.
RTC_PRIVILEGE_EXPIRES = ("join_expire", "publish_audio_expire", "publish_video_expire", "publish_data_expire")


@dataclass(frozen=True)
class IssuedToken:
    token: str
    kind: str
    issued_at: datetime
    expires_at: datetime
    subject: dict  # what the token is for: channel, uid/account, user id, role (never the token itself)

    def grants(self) -> TokenGrant:
        """The token as parsed back: exactly what it grants, labelled for a person."""
        return describe(at2.parse(self.token).as_dict())


def _rtc_subject(params: dict) -> tuple[dict, int | str]:
    channel = rules.channel_name(params.get("channel"))
    who: int | str
    if params.get("account") not in (None, ""):
        who = rules.account(params["account"])
        subject: dict[str, int | str] = {"channel": channel, "account": who}
    else:
        who = rules.uid(params.get("uid", 0))
        subject = {"channel": channel, "uid": who}
    subject["role"] = "publisher" if rules.role(params.get("role", "publisher")) == 1 else "subscriber"
    return subject, who


def _rtc_rtm(
    app_id: str,
    certificate: str,
    params: dict,
    expire: int,
    privilege_expire: int,
    max_expire: int,
    when: dict[str, int | None],
) -> tuple[dict, str]:
    """RTC for a user account plus RTM login, each RTC privilege and the RTM login with its own expiry."""
    if params.get("account") in (None, ""):
        raise at2.TokenError("An RTC + RTM token needs a user account (it is also the RTM user id).")
    subject, account = _rtc_subject(params)
    subject["user_id"] = rules.user_id(params.get("rtm_user_id") or account)
    join, audio, video, data = (
        rules.privilege_expire(params.get(name, privilege_expire), max_expire, f"The {name.replace('_', ' ')}")
        for name in RTC_PRIVILEGE_EXPIRES
    )
    rtm_expire = rules.privilege_expire(params.get("rtm_expire", expire), max_expire, "The RTM expiry")
    token = at2.build_rtc_rtm_with_privileges(
        app_id,
        certificate,
        subject["channel"],
        account,
        rules.role(subject["role"]),
        expire,
        join,
        audio,
        video,
        data,
        subject["user_id"],
        rtm_expire,
        **when,
    )
    return subject, token


def build_with_credentials(
    app_id: str,
    certificate: str,
    kind: str,
    params: dict,
    *,
    max_expire: int = rules.DAY,
    issue_ts: int | None = None,
    salt: int | None = None,
) -> IssuedToken:
    """Validate `params` for `kind` with the input rules and build. Raises TokenError for bad input.

    `issue_ts` and `salt` make the token reproducible (tests, the CLI); by default now and random.
    """
    if kind not in KINDS:
        raise at2.TokenError(f"Unknown token type {kind!r}: use one of {', '.join(KINDS)}.")
    expire = rules.expire(params.get("expire", min(rules.DAY, max_expire)), max_expire)
    privilege_expire = rules.privilege_expire(params.get("privilege_expire"), max_expire)
    issued = int(datetime.now(UTC).timestamp()) if issue_ts is None else issue_ts
    when = {"issue_ts": issued, "salt": salt}

    if kind == "rtc":
        subject, who = _rtc_subject(params)
        token = at2.build_rtc(
            app_id, certificate, subject["channel"], who, rules.role(subject["role"]), expire, privilege_expire, **when
        )
    elif kind == "rtc_rtm":
        subject, token = _rtc_rtm(app_id, certificate, params, expire, privilege_expire, max_expire, when)
    elif kind == "rtm":
        subject = {"user_id": rules.user_id(params.get("user_id"))}
        token = at2.build_rtm(app_id, certificate, subject["user_id"], expire, **when)
    elif kind == "rtm2":
        subject = {"user_id": rules.user_id(params.get("user_id"))}
        permissions = rules.rtm2_permissions(params.get("permissions"))
        token = at2.build_rtm_with_permissions(app_id, certificate, subject["user_id"], permissions, expire, **when)
    elif kind == "chat_user":
        subject = {"user_id": rules.user_id(params.get("user_id"))}
        token = at2.build_chat_user(app_id, certificate, subject["user_id"], expire, **when)
    else:
        subject = {}
        token = at2.build_chat_app(app_id, certificate, expire, **when)
    return IssuedToken(
        token=token,
        kind=kind,
        issued_at=datetime.fromtimestamp(issued, UTC),
        expires_at=datetime.fromtimestamp(issued + expire, UTC),
        subject=subject,
    )


def build_token(project: Project, kind: str, params: dict, **options: Any) -> IssuedToken:
    """The same for a stored project: checks it may issue tokens, signs with its primary certificate.

    Raises TokenError (bad input) or RuleViolation (the project or organization refuses).
    """
    check_can_issue_tokens(project)
    primary = project.primary
    assert primary is not None  # check_can_issue_tokens refuses a project without an enabled primary
    issued = build_with_credentials(project.app_id, primary.value, kind, params, **options)
    certificate_use.record(project.pk, primary.fingerprint, issued.expires_at)
    return issued


def issue_temp_token(
    actor: Membership, project: Project, kind: str, params: dict, *, request: HttpRequest | None = None
) -> IssuedToken:
    """A temp token from the console, audited (who, project, channel or user, expiry; not the token)."""
    issued = build_token(project, kind, params)
    audit.record_about_project(
        "token.generated",
        actor=actor,
        project=project,
        request=request,
        kind=kind,
        expires_at=issued.expires_at.isoformat(),
        **issued.subject,
    )
    metrics.tokens_issued.labels(kind, "page").inc()
    return issued


@dataclass
class Inspection:
    """What the token inspector shows about one pasted token."""

    token: str
    version: str = ""
    details: dict | None = None  # the parsed token (accesstoken2 Token.as_dict / LegacyToken.as_dict)
    error: str = ""
    project: Project | None = None
    signed_by: str = ""  # "primary" or "secondary" when a certificate of the project verifies it
    signer_enabled: bool = False
    expired: bool = False
    expires_at: datetime | None = None

    @property
    def is_legacy(self) -> bool:
        return self.version == at2.LEGACY_VERSION

    @property
    def grant(self) -> TokenGrant | None:
        return describe(self.details) if self.details and not self.is_legacy else None

    @property
    def legacy_privileges(self) -> list:
        return describe_legacy(self.details) if self.details and self.is_legacy else []


def inspect_token(token: str, projects: QuerySet[Project]) -> Inspection:
    """Parse `token`, find its project among `projects` (a queryset the person may see) and verify it."""
    token = (token or "").strip()
    inspection = Inspection(token=token, version=token[:3])
    try:
        parsed = at2.parse_legacy(token) if inspection.is_legacy else at2.parse(token)
    except at2.TokenError as error:
        inspection.error = str(error)
        return inspection
    inspection.details = parsed.as_dict()
    inspection.expired = parsed.is_expired()
    expires_ts = parsed.expire_ts if isinstance(parsed, at2.LegacyToken) else parsed.expires_at
    inspection.expires_at = datetime.fromtimestamp(expires_ts, UTC)
    try:
        at2.check_hex32(parsed.app_id, "The App ID")
    except at2.TokenError:
        return inspection  # a damaged App ID can belong to no project (and must not reach a query)
    inspection.project = projects.filter(app_id__iexact=parsed.app_id).prefetch_related("certificates").first()
    if inspection.project is not None and isinstance(parsed, at2.Token):
        for certificate in inspection.project.certificates.all():
            if parsed.verify(certificate.value):
                inspection.signed_by, inspection.signer_enabled = certificate.slot, certificate.enabled
                break
    return inspection


__all__ = [
    "Inspection",
    "inspect_token",
    "IssuedToken",
    "build_token",
    "build_with_credentials",
    "issue_temp_token",
    "KINDS",
]
