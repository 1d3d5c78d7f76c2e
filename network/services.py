"""State changes of a project's notification settings: the receiving end of Agora's webhooks.

Same contract as every app's services: `(actor, project, *, request=None)`, audited with the actor. `actor`
is the member acting, or None for the console itself (a command run by an operator without --as), whose
entries name the system.
"""

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts import audit
from accounts.models import Membership
from console.refusals import RuleViolation
from projects.models import Project

from .models import NotificationSettings, new_secret

# Registered with accounts.audit when the app starts (apps.py).
AUDIT_ACTIONS = {
    "notifications.enabled": "Agora notifications enabled",
    "notifications.disabled": "Agora notifications disabled",
    "notifications.secret_rotated": "Agora notification secret rotated",
}


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


def _existing(project: Project) -> NotificationSettings:
    receiving = NotificationSettings.objects.select_for_update().filter(project=project).first()
    if receiving is None:
        raise RuleViolation(f"Project {project.project_id} does not receive notifications: enable them first.")
    return receiving
