"""Writing the audit log. Every security-relevant action goes through `record()`."""

import json

from django.db.models import Q
from django.utils import timezone

from console.csv_export import inert

from .models import AuditEntry

# Action code -> label. Later apps add their own codes with `register_actions()`.
ACTIONS: dict[str, str] = {
    "auth.login": "Signed in",
    "auth.login_failed": "Failed sign-in",
    "auth.lockout": "Sign-in refused (locked out)",
    "auth.logout": "Signed out",
    "auth.reauth_failed": "Wrong password when confirming an action",
    "auth.password_changed": "Password changed",
    "auth.password_reset": "Password reset",
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
}


def register_actions(actions: dict[str, str]) -> None:
    ACTIONS.update(actions)


def client_ip(request) -> str | None:
    # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a trusted proxy rewrites it.
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def record(action: str, *, request=None, actor=None, organization=None, target: str = "", **details) -> AuditEntry:
    """Append one entry. `request` supplies the actor, IP address and user agent when given."""
    if action not in ACTIONS:
        raise ValueError(f"Unknown audit action {action!r}; add it to ACTIONS.")
    if actor is None and request is not None and request.user.is_authenticated:
        actor = request.user
    return AuditEntry.objects.create(
        created_at=timezone.now(),
        organization=organization,
        actor=actor,
        actor_email=actor.email if actor else "",
        action=action,
        target=str(target)[:255],
        ip_address=client_ip(request),
        user_agent=(request.META.get("HTTP_USER_AGENT", "") if request is not None else "")[:255],
        details=details,
    )


def entries_for(organization):
    """An organization's audit log: its own entries plus sign-in events of its current members.

    Sign-in events belong to no organization (a person may have several), so they are matched by email.
    """
    member_emails = organization.memberships.values("user__email")
    return AuditEntry.objects.filter(
        Q(organization=organization) | Q(organization__isnull=True, target__in=member_emails)
    )


def actor_emails(entries) -> list[str]:
    return list(entries.exclude(actor_email="").order_by().values_list("actor_email", flat=True).distinct()[:200])


def csv_row(entry: AuditEntry) -> list[str]:
    values = [
        entry.created_at.isoformat(),
        entry.actor_email,
        entry.action,
        entry.target,
        entry.ip_address or "",
        entry.user_agent,
        json.dumps(entry.details, sort_keys=True),
    ]
    return [inert(value) for value in values]
