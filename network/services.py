"""State changes of a project's notification settings: the receiving end of Agora's webhooks.

Same contract as every app's services: `(actor, project, *, request=None)`, audited with the actor. `actor`
is the member acting, or None for the console itself (a command run by an operator without --as), whose
entries name the system. Revealing the secret and running a Check change nothing but are audited here too.
"""

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts import audit
from accounts.models import Membership
from console.refusals import RuleViolation
from projects.models import Project

from . import check as check_module
from . import ncs
from .models import NotificationSettings, new_secret

# Registered with accounts.audit when the app starts (apps.py).
AUDIT_ACTIONS = {
    "notifications.enabled": "Agora notifications enabled",
    "notifications.disabled": "Agora notifications disabled",
    "notifications.secret_rotated": "Agora notification secret rotated",
    "notifications.updated": "Agora notification settings changed",
    "notifications.secret_revealed": "Agora notification secret revealed",
    "notifications.checked": "Agora notifications checked",
}
MIN_RETENTION_DAYS, MAX_RETENTION_DAYS = 1, 30


@transaction.atomic
def enable(actor: Membership | None, project: Project, *, request: HttpRequest | None = None) -> NotificationSettings:
    """Receive the project's notifications: created with a new secret the first time, else turned back on."""
    receiving = NotificationSettings.objects.select_for_update().filter(project=project).first()
    if receiving is not None and receiving.enabled:
        return receiving
    receiving = receiving or NotificationSettings(project=project)
    receiving.enabled, receiving.updated_at = True, timezone.now()
    receiving.save()
    audit.record_about_project("notifications.enabled", actor=actor, project=project, request=request)
    return receiving


@transaction.atomic
def disable(actor: Membership | None, project: Project, *, request: HttpRequest | None = None) -> NotificationSettings:
    """Answer the project's notifications 404 (Agora then retries and gives up) until enabled again."""
    receiving = _existing(project)
    if receiving.enabled:
        receiving.enabled, receiving.updated_at = False, timezone.now()
        receiving.save()
        audit.record_about_project("notifications.disabled", actor=actor, project=project, request=request)
    return receiving


@transaction.atomic
def rotate_secret(
    actor: Membership | None, project: Project, *, request: HttpRequest | None = None
) -> NotificationSettings:
    """A new secret at once: notifications signed with the old one are refused (401) from now on."""
    receiving = _existing(project)
    receiving.secret, receiving.updated_at = new_secret(), timezone.now()
    receiving.save()
    audit.record_about_project("notifications.secret_rotated", actor=actor, project=project, request=request)
    return receiving


def _event_types(event_types: object) -> list[int]:
    """The event types to subscribe, each known once, in order; RuleViolation for anything else."""
    if not isinstance(event_types, list | tuple | set) or not event_types:
        raise RuleViolation("Choose at least one event type.", field="event_types")
    unknown = [code for code in event_types if type(code) is not int or code not in ncs.EVENT_NAMES]
    if unknown:
        known = ", ".join(str(code) for code in sorted(ncs.EVENT_NAMES))
        raise RuleViolation(f"Unknown event type {str(unknown[0])[:20]!r}: choose among {known}.", field="event_types")
    return sorted(set(event_types))


def _retention_days(days: object) -> int:
    if isinstance(days, bool) or not isinstance(days, int) or not MIN_RETENTION_DAYS <= days <= MAX_RETENTION_DAYS:
        raise RuleViolation(
            f"Keep notifications from {MIN_RETENTION_DAYS} to {MAX_RETENTION_DAYS} days.", field="retention_days"
        )
    return days


@transaction.atomic
def update(
    actor: Membership | None,
    project: Project,
    *,
    event_types: object,
    retention_days: object,
    request: HttpRequest | None = None,
) -> NotificationSettings:
    """The event types subscribed (those a Check tests and Agora's console should send) and how many days
    received notifications are kept. Audited when something changed (a form sent twice changes it once)."""
    types, days = _event_types(event_types), _retention_days(retention_days)
    receiving = _existing(project)
    changes: dict[str, object] = {}
    if receiving.event_types != types:
        changes["event_types"] = {"from": receiving.event_types, "to": types}
    if receiving.retention_days != days:
        changes["retention_days"] = {"from": receiving.retention_days, "to": days}
    if changes:
        receiving.event_types, receiving.retention_days, receiving.updated_at = types, days, timezone.now()
        receiving.save()
        audit.record_about_project("notifications.updated", actor=actor, project=project, request=request, **changes)
    return receiving


def reveal_secret(
    actor: Membership, project: Project, *, door: str = "page", request: HttpRequest | None = None
) -> str:
    """The secret, for a member whose role may view App Certificates (the same secrecy); every reveal is
    audited, never with the value. `door`: "page" or "api"."""
    if not actor.can("certificates", "view"):
        raise RuleViolation("Your role cannot see the notification secret (certificates: view needed).")
    receiving = NotificationSettings.objects.filter(project=project).first()
    if receiving is None:
        raise RuleViolation(f"Project {project.project_id} does not receive notifications: enable them first.")
    audit.record_about_project(
        "notifications.secret_revealed", actor=actor, project=project, request=request, door=door
    )
    return receiving.secret


def check(
    actor: Membership | None, project: Project, receiving_url: str, *, request: HttpRequest | None = None
) -> list[check_module.Result]:
    """Send a signed test notification of each subscribed type to `receiving_url` (network.check) and say how
    each was answered. Audited with the count of those that passed."""
    receiving = NotificationSettings.objects.filter(project=project).first()
    if receiving is None or not receiving.enabled:
        raise RuleViolation("Enable notifications before checking them: a disabled project answers 404.")
    results = check_module.send_test_notifications(receiving_url, receiving.secret, receiving.event_types)
    passed = sum(result.ok for result in results)
    audit.record_about_project(
        "notifications.checked", actor=actor, project=project, request=request, passed=passed, events=len(results)
    )
    return results


def _existing(project: Project) -> NotificationSettings:
    receiving = NotificationSettings.objects.select_for_update().filter(project=project).first()
    if receiving is None:
        raise RuleViolation(f"Project {project.project_id} does not receive notifications: enable them first.")
    return receiving
