"""State changes of the usage settings and Data sync: the upstream, project mappings, connection tests and
backfills.

Each function is one use case, called by the pages (usage.sync_views), the APIs and commands alike, with the
project-wide signature `(actor: Membership, ..., *, request=None)`: `actor` is the member acting, and the
audit entry names them; `request`, when there is one, adds the IP address and user agent. A refused action
raises `RuleViolation` with a message for the person. Messages and redirects are the caller's.
"""

import logging
from dataclasses import dataclass
from datetime import date

import requests
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts import audit
from accounts.access import restrict
from accounts.models import Membership
from console.refusals import RuleViolation
from projects.models import Project

from . import tasks
from .client import UpstreamClient, UpstreamError
from .models import ERROR_MAX, ProjectMapping, PullRun, Upstream
from .pulling import create_run, sync_mappings

logger = logging.getLogger(__name__)

# Registered with accounts.audit when the app starts (apps.py).
AUDIT_ACTIONS = {
    "usage.upstream_changed": "Usage upstream changed",
    "usage.mapping_changed": "Usage project mapping changed",
    "usage.backfill_started": "Usage backfill started",
}

CHECK_RESULT_MAX = 255  # Upstream.last_check_result


# The upstream -------------------------------------------------------------------------------------


@transaction.atomic
def save_upstream(
    actor: Membership, base_url: str, customer_id: str, customer_secret: str, *, request: HttpRequest | None = None
) -> list[str]:
    """Save the organization's upstream (creating it if there is none) and forget the last connection test,
    which was of other settings. An empty `customer_secret` keeps the stored one, unless the base URL changes:
    a stored secret only ever goes to the server it was entered for.

    Returns the names of the settings that changed (the secret by name only); [] when none did: then nothing
    is saved and no entry written."""
    upstream = Upstream.objects.select_for_update().filter(organization=actor.organization_id).first()
    if not customer_secret:
        if upstream is None or not upstream.customer_secret:
            raise RuleViolation("Enter the Customer Secret.", field="customer_secret")
        if base_url != upstream.base_url:
            raise RuleViolation(
                "The base URL changed: enter the Customer Secret again. "
                "A stored secret is only sent to the server it was entered for.",
                field="customer_secret",
            )
    changed = _changed(upstream, base_url, customer_id, customer_secret)
    if not changed:
        return []
    if upstream is None:
        upstream = Upstream(organization=actor.organization)
    upstream.base_url = base_url
    upstream.customer_id = customer_id
    if customer_secret:
        upstream.customer_secret = customer_secret
    upstream.last_checked_at, upstream.last_check_result = None, ""  # the last test was of other settings
    upstream.updated_at = timezone.now()
    upstream.save()
    audit.record(
        "usage.upstream_changed",
        request=request,
        actor=actor.user,
        organization=actor.organization,
        target=upstream.base_url or "built-in upstream",
        changed=changed,  # names only: the secret's value never goes to the log
        base_url=upstream.base_url,
        customer_id=upstream.customer_id,
    )
    return changed


def _changed(upstream: Upstream | None, base_url: str, customer_id: str, customer_secret: str) -> list[str]:
    new = {"base_url": base_url, "customer_id": customer_id}
    changed = [name for name, value in new.items() if upstream is None or value != getattr(upstream, name)]
    if customer_secret and (upstream is None or customer_secret != upstream.customer_secret):
        changed.append("customer_secret")
    return changed


@dataclass(frozen=True)
class ConnectionCheck:
    """What a connection test found: the upstream's project count and how many projects matched by App ID,
    or why it failed (`reason`, for the person)."""

    ok: bool
    reason: str = ""
    listed: int = 0
    matched: int = 0


def _describe(error: Exception) -> str:
    """A short reason for a failed connection test. The client's messages never quote the upstream."""
    if not isinstance(error, UpstreamError):
        return "The upstream could not be called."
    text = str(error)
    if " 401 " in f" {text} ":
        return f"{text} Check the Customer ID and Customer Secret."
    return text


def check_connection(actor: Membership, *, request: HttpRequest | None = None) -> ConnectionCheck:
    """GET /dev/v1/projects with the saved settings; when it answers, match the organization's projects by
    App ID (mappings set by hand are kept). The outcome is stored on the upstream either way."""
    upstream = Upstream.objects.filter(organization=actor.organization_id).first()
    if upstream is None:
        raise RuleViolation("Save the upstream settings first.")
    # A person is waiting: one retry at most, not the pipeline's full backoff.
    client = UpstreamClient.for_upstream(upstream, retries=min(settings.USAGE_HTTP_RETRIES, 1))
    try:
        listed = client.projects()
    except (UpstreamError, requests.RequestException) as error:
        reason = _describe(error)
        _store_check(upstream, f"Failed: {reason}")
        return ConnectionCheck(ok=False, reason=reason)
    with transaction.atomic():
        matched = sync_mappings(upstream, listed)
        noun = "project" if len(listed) == 1 else "projects"
        _store_check(upstream, f"Connected: {len(listed)} {noun} upstream; {matched} matched by App ID")
    return ConnectionCheck(ok=True, listed=len(listed), matched=matched)


def _store_check(upstream: Upstream, result: str) -> None:
    upstream.last_checked_at = timezone.now()
    upstream.last_check_result = result[:CHECK_RESULT_MAX]
    upstream.save(update_fields=["last_checked_at", "last_check_result"])


# Project mappings ---------------------------------------------------------------------------------


@transaction.atomic
def set_mapping(
    actor: Membership, project: Project, upstream_project_id: str, *, request: HttpRequest | None = None
) -> bool:
    """Key the project's usage by this upstream project id, set by hand (the next sync keeps it). Returns
    False when the project already had exactly this mapping set by hand: nothing changes."""
    old = ProjectMapping.objects.select_for_update().filter(project=project).first()
    if old is not None and old.upstream_project_id == upstream_project_id and not old.matched_automatically:
        return False
    ProjectMapping.objects.update_or_create(
        project=project,
        defaults={
            "upstream_project_id": upstream_project_id,
            "matched_automatically": False,
            "updated_at": timezone.now(),
        },
    )
    _record_mapping(actor, project, old, upstream_project_id, request)
    return True


@transaction.atomic
def remove_mapping(actor: Membership, project: Project, *, request: HttpRequest | None = None) -> bool:
    """Remove the project's mapping; the next sync matches it by App ID again, if it can. Returns False when
    it had none."""
    old = ProjectMapping.objects.select_for_update().filter(project=project).first()
    if old is None:
        return False
    old.delete()
    _record_mapping(actor, project, old, None, request)
    return True


def _record_mapping(
    actor: Membership, project: Project, old: ProjectMapping | None, new: str | None, request: HttpRequest | None
) -> None:
    audit.record_about_project(
        "usage.mapping_changed",
        actor=actor,
        project=project,
        request=request,
        project_id=project.project_id,
        old=old.upstream_project_id if old else None,
        new=new,
    )


# Backfills ----------------------------------------------------------------------------------------


@transaction.atomic
def start_backfill(
    actor: Membership, project: Project | None, day_from: date, day_to: date, *, request: HttpRequest | None = None
) -> PullRun:
    """Create a console pull run of these days for one project (None: every enabled project) and queue it once
    the transaction commits. Refused without an upstream, or while the same backfill is queued or running.

    Should the queue be unavailable, the run is marked failed with the reason rather than left queued forever:
    the returned run (read it again after the commit) says so."""
    if not Upstream.objects.select_for_update().filter(organization=actor.organization_id).exists():
        raise RuleViolation("No usage upstream is configured: set one up under Settings first.")
    active = restrict(PullRun, actor).filter(
        kind=PullRun.Kind.USAGE,
        status__in=[PullRun.Status.QUEUED, PullRun.Status.RUNNING],
        project=project,
        date_from=day_from,
        date_to=day_to,
    )
    if active.exists():
        raise RuleViolation("The same backfill is already queued or running; its progress is shown below.")
    run = create_run(
        actor.organization, day_from, day_to, trigger=PullRun.Trigger.CONSOLE, project=project, user=actor.user
    )
    audit.record(
        "usage.backfill_started",
        request=request,
        actor=actor.user,
        organization=actor.organization,
        project=project,
        target=project.name if project else "All enabled projects",
        run=run.pk,
        date_from=day_from.isoformat(),
        date_to=day_to.isoformat(),
    )
    transaction.on_commit(lambda: _enqueue(run.pk))
    return run


def _enqueue(run_id: int) -> None:
    try:
        tasks.execute_pull_run.delay(run_id)
    except Exception as error:  # the broker is down: say so rather than leave a run queued forever
        logger.exception("Could not queue pull run %s", run_id)
        PullRun.objects.filter(pk=run_id, status=PullRun.Status.QUEUED).update(
            status=PullRun.Status.FAILED,
            error=f"Could not queue the backfill: {error}"[:ERROR_MAX],
            finished_at=timezone.now(),
        )
