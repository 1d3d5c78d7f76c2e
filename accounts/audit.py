"""Writing the audit log. Every security-relevant action goes through `record()`."""

import ipaddress
import json
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from .access import scope_ids
from .models import AuditEntry, Membership, Organization, User
from .requests import MemberRequest

# Action code -> label. Each app adds its own codes with `register_actions()` from its AppConfig.ready(), so
# every code is known once Django has started, whichever module is imported first.
ACTIONS: dict[str, str] = {
    "auth.login": "Signed in",
    "auth.login_failed": "Failed sign-in",
    "auth.lockout": "Sign-in refused (locked out)",
    "auth.logout": "Signed out",
    "auth.reauth_failed": "Wrong password when confirming an action",
    "auth.password_changed": "Password changed",
    "auth.password_reset": "Password reset",
    "auth.email_verified": "Email address verified",
    "auth.mfa_added": "Second factor added",
    "auth.mfa_removed": "Second factor removed",
    "auth.recovery_codes_renewed": "Recovery codes renewed",
    "org.created": "Organization created",
    "org.updated": "Organization settings changed",
    "org.ownership_transferred": "Ownership handed over",
    "invitation.sent": "Invitation sent",
    "invitation.resent": "Invitation resent",
    "invitation.accepted": "Invitation accepted",
    "invitation.revoked": "Invitation revoked",
    "role.created": "Role created",
    "role.updated": "Role changed",
    "role.deleted": "Role deleted",
    "member.role_changed": "Member role changed",
    "member.removed": "Member removed",
    "member.left": "Member left the organization",
    "member.joined_by_sso": "Member joined through single sign-on",
    "sso.updated": "Single sign-on settings changed",
    "token.issued": "Token issued through the API",
}


SYSTEM_ACTOR = "system"  # the actor of entries the console writes for nobody: closing a month, reaping runs


def register_actions(actions: dict[str, str]) -> None:
    ACTIONS.update(actions)


def person(request: HttpRequest | None) -> User | None:
    """The signed-in person of a request (a page's session, or the member an API credential acts for)."""
    if request is None or not request.user.is_authenticated:
        return None
    return request.user


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address: what sign-in lockouts, API limits and audit entries count by.

    Without trusted proxies (TRUSTED_PROXY_COUNT=0) it is REMOTE_ADDR: X-Forwarded-For is whatever the client
    wrote. Behind N proxies that each append the address they received from, the client is the N-th entry
    from the right of X-Forwarded-For; entries further left were written by the client and are ignored. A
    header with fewer entries than that, or an entry that is not an address, means the request did not come
    through the proxies: REMOTE_ADDR then."""
    if request is None:
        return None
    remote = request.META.get("REMOTE_ADDR") or None
    trusted = settings.TRUSTED_PROXY_COUNT
    if not trusted:
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if len(hops) < trusted:
        return remote
    try:
        return str(ipaddress.ip_address(hops[-trusted]))
    except ValueError:
        return remote


# Actions that are always about a project. Such an entry written without its project (or naming several)
# cannot be matched to a member's scope: it is marked as about a project all the same, so only members who
# see every project read it, rather than everyone as an organization-level entry.
PROJECT_ACTION_PREFIXES = ("project.", "certificate.", "token.")
PROJECT_ACTIONS = {"usage.mapping_changed", "role.scope_widened"}


def record(
    action: str,
    *,
    actor: Membership | User | None,
    request: HttpRequest | None = None,
    organization: Organization | None = None,
    project: Any = None,  # a Project or cached token facts: anything with pk and organization_id
    target: str = "",
    **details: Any,
) -> AuditEntry:
    """Append one entry.

    `actor`: who did it, always given by the caller (a service passes the member it acts for; a sign-in event
    the person), so that an action from a command or a job names its actor as one from a page does; None
    for an unknown person (a failed sign-in) or, without a request, the console itself (a scheduled job or a
    command acting for nobody), named SYSTEM_ACTOR.
    `request` supplies the IP address and user agent when there is one. `project`: the project the entry is
    about (the object, never its name: a Project, or its cached facts, anything with `pk` and
    `organization_id`), so that members who see selected projects only read it when it is one of theirs;
    None for organization-level entries.
    """
    if action not in ACTIONS:
        raise ValueError(f"Unknown audit action {action!r}; add it to ACTIONS.")
    if project is not None and (organization is None or project.organization_id != organization.pk):
        raise ValueError(f"An entry about {project} belongs to that project's organization.")
    if isinstance(actor, Membership):
        actor = actor.user
    about_project = project is not None or action.startswith(PROJECT_ACTION_PREFIXES) or action in PROJECT_ACTIONS
    return AuditEntry.objects.create(
        created_at=timezone.now(),
        organization=organization,
        project_id=project.pk if project is not None else None,
        about_project=about_project,
        actor=actor,
        actor_email=actor.email if actor else ("" if request is not None else SYSTEM_ACTOR),
        action=action,
        target=str(target)[:255],
        ip_address=client_ip(request),
        user_agent=(request.META.get("HTTP_USER_AGENT", "") if request is not None else "")[:255],
        details=details,
    )


def record_about_project(
    action: str, *, actor: Membership | User | None, project: Any, request: HttpRequest | None = None, **details: Any
) -> AuditEntry:
    """An entry about `project` (a Project), in its organization and named by its name."""
    return record(
        action,
        actor=actor,
        request=request,
        organization=project.organization,
        project=project,
        target=project.name,
        **details,
    )


def entries_for(organization: Organization, membership: Membership | None = None) -> QuerySet[AuditEntry]:
    """An organization's audit log: its own entries plus sign-in events of its current members.

    Sign-in events belong to no organization (a person may have several), so they are matched by email.
    Given the `membership` of the reader, the log follows its project scope like every other list
    (accounts.access): a role that sees every project reads everything; a role limited to selected projects
    reads the entries that name no project and those about its projects. An entry about a deleted project
    has lost its project: nothing proves it was in the scope, so only roles that see every project read it.
    """
    if membership is not None and membership.organization_id != organization.pk:
        raise ValueError("A member reads the audit log of their own organization only.")
    member_emails = organization.memberships.values("user__email")
    entries = AuditEntry.objects.filter(
        Q(organization=organization) | Q(organization__isnull=True, target__in=member_emails)
    )
    if membership is not None and not membership.role.all_projects:
        entries = entries.filter(Q(about_project=False) | Q(project__in=scope_ids(membership)))
    return entries


def actor_emails(entries: QuerySet[AuditEntry]) -> list[str]:
    return list(entries.exclude(actor_email="").order_by().values_list("actor_email", flat=True).distinct()[:200])


def csv_row(entry: AuditEntry) -> list[str]:
    return [
        entry.created_at.isoformat(),
        entry.actor_email,
        entry.action,
        entry.target,
        entry.ip_address or "",
        entry.user_agent,
        json.dumps(entry.details, sort_keys=True),
    ]


# Reads and issuance through the APIs -------------------------------------------------------------------
#
# Certificates returned by Agora's API get one `certificate.revealed` entry per answer. Tokens issued by the
# token API get a `token.issued` entry each, up to TOKEN_ENTRIES_PER_MINUTE per caller, project and minute;
# beyond that they are counted in the cache (atomic incr, shared by every process with Redis) and written as
# one entry {"count": k, "minute": ...} by whoever flushes first: the beat task every minute (every count of
# the last TOKEN_COUNTS_KEPT), or the first token request each process serves in a minute (the counts this
# process listed, so that it costs nothing when there are none). A flush takes the difference between the minute's count
# and what earlier flushes wrote, under a per-count lock, so a count is written once and never dropped
# (stragglers counted after a flush go to the next one). Counts wait in the cache for TOKEN_COUNTS_KEPT.


TOKEN_ENTRIES_PER_MINUTE = 10  # entries of their own per caller (credential or session), project and minute
TOKEN_COUNTS_KEPT = 24 * 3600  # seconds a count waits in the cache for its flush
_FLUSH_LOCK_SECONDS = 60
_swept_minute: int | None = None  # the minute this process last flushed from a request
_listed_minutes: set[int] = set()  # minutes this process listed a count in, until flushed after they ended
_listed_lock = threading.Lock()


def _now() -> float:
    return time.time()


def api_credential(request: MemberRequest) -> str:
    """The Customer ID an API request authenticated with, or "session" for a member signed in with the browser."""
    if getattr(getattr(request, "auth", None), "credential_id", None) is None:
        return "session"
    from .api_auth import basic_credentials  # api_auth -> api_credentials -> audit: import on use

    credentials = basic_credentials(request.META["HTTP_AUTHORIZATION"])
    return credentials[0] if credentials else "session"


def record_api_reveal(
    request: MemberRequest, project_ids: list[str], fingerprints: list[str], *, target: str, project: Any = None
) -> AuditEntry:
    """An API answer carried the primary certificates of these projects (named by ID and fingerprint, never
    by value): one entry per answer, cached answers included. `project` when the answer is about one project
    (a list belongs to no single project: only members who see every project read those entries)."""
    return record(
        "certificate.revealed",
        actor=person(request),
        request=request,
        organization=request.membership.organization,
        project=project,
        target=target,
        via="api",
        path=request.path,
        credential=api_credential(request),
        slot="primary",
        count=len(project_ids),
        project_ids=project_ids,
        fingerprints=fingerprints,
    )


def record_token_issued(request: MemberRequest, project: Any, project_id: str, **details: Any) -> None:
    """A token issued through the API (`details`: what it is for, never the token): an entry of its own, or
    one more in the minute's count once the caller has had TOKEN_ENTRIES_PER_MINUTE for this project."""
    minute = int(_now() // 60)
    _flush_once_a_minute(minute)  # first, so that earlier minutes' counts come before this entry
    membership = request.membership
    credential = api_credential(request)
    key = f"audit-tokens:{credential}:{membership.pk}:{project_id}:{minute}"
    issued = _increment(key)
    if issued <= TOKEN_ENTRIES_PER_MINUTE:
        record(
            "token.issued",
            actor=person(request),
            request=request,
            organization=membership.organization,
            project=project,
            target=project_id,
            credential=credential,
            **details,
        )
    elif issued == TOKEN_ENTRIES_PER_MINUTE + 1:  # exactly one request per count gets here: list it for flushes
        slot = _increment(f"audit-tokens:slots:{minute}")
        count = {
            "key": key,
            "first": TOKEN_ENTRIES_PER_MINUTE,
            "minute": minute,
            "user_id": request.user.pk,
            "organization_id": membership.organization_id,
            "project_id": project_id,
            "project_pk": project.pk,
            "credential": credential,
        }
        cache.set(f"audit-tokens:slot:{minute}:{slot}", count, TOKEN_COUNTS_KEPT)
        with _listed_lock:
            _listed_minutes.add(minute)


def flush_token_counts(minutes: Iterable[int] | None = None) -> int:
    """Write the counted tokens not written yet, of `minutes` (Unix time // 60; by default every minute of the
    last TOKEN_COUNTS_KEPT seconds, this one included); the number of tokens written."""
    if minutes is None:
        minute = int(_now() // 60)
        minutes = range(minute - TOKEN_COUNTS_KEPT // 60, minute + 1)
    slots = cache.get_many([f"audit-tokens:slots:{m}" for m in minutes])
    keys = [f"{key.replace(':slots:', ':slot:')}:{n}" for key, listed in slots.items() for n in range(1, listed + 1)]
    return sum(_flush(count) for count in cache.get_many(keys).values())


def _increment(key: str) -> int:
    try:
        return cache.incr(key)
    except ValueError:  # the first of its minute (or evicted)
        cache.add(key, 0, TOKEN_COUNTS_KEPT)
        return cache.incr(key)


def _flush_once_a_minute(minute: int) -> None:
    """The counts this process listed, at its first token request of each minute (checked without a cache
    round trip). With the local-memory cache (development) each process holds its own counts, which only it
    can write; with Redis the beat task writes them too."""
    global _swept_minute
    if _swept_minute == minute:
        return
    _swept_minute = minute
    with _listed_lock:
        listed = sorted(_listed_minutes)
    if not listed:
        return
    flush_token_counts(listed)
    with _listed_lock:  # a minute is done once flushed a whole minute after its end (late requests included)
        _listed_minutes.difference_update(m for m in listed if m < minute - 1)


def _flush(count: dict) -> int:
    """Write what `count` has counted beyond its first entries and earlier flushes; the number written."""
    lock = f"{count['key']}:flushing"
    if not cache.add(lock, 1, _FLUSH_LOCK_SECONDS):
        return 0  # another flush holds it: what it misses stays for the next one
    try:
        written_key = f"{count['key']}:written"
        written = cache.get(written_key, 0)
        pending = cache.get(count["key"], 0) - count["first"] - written
        if pending <= 0:
            return 0
        organization = Organization.objects.filter(pk=count["organization_id"]).first()
        projects = AuditEntry._meta.get_field("project").related_model._default_manager  # accounts imports no projects
        record(
            "token.issued",
            actor=User.objects.filter(pk=count["user_id"]).first(),
            organization=organization,
            project=projects.filter(pk=count["project_pk"], organization=organization).first(),
            target=count["project_id"],
            credential=count["credential"],
            count=pending,
            minute=datetime.fromtimestamp(count["minute"] * 60, UTC).isoformat(),
        )
        # After the entry: a crash in between writes this count twice rather than never.
        cache.set(written_key, written + pending, TOKEN_COUNTS_KEPT)
        return pending
    finally:
        cache.delete(lock)
