"""Celery tasks: thin wrappers that create or load a pull run and execute it (usage.pulling)."""

from datetime import date

from celery import shared_task
from django.utils import timezone

from accounts.models import Organization
from projects.models import Project

from .client import UpstreamClient, UpstreamError
from .models import PullRun, Upstream
from .pulling import create_run, execute_run, pullable_projects, recent_window, sync_mappings


@shared_task
def pull_recent() -> int:
    """Every hour: yesterday and today for every enabled project of every organization with an upstream,
    one task per project. Returns how many were queued."""
    day_from, day_to = recent_window()
    queued = 0
    for upstream in Upstream.objects.select_related("organization"):
        try:
            sync_mappings(upstream, UpstreamClient.for_upstream(upstream))
        except UpstreamError:
            pass  # each project's run records the failure
        for project in pullable_projects(upstream.organization):
            run = create_run(upstream.organization, day_from, day_to, trigger=PullRun.Trigger.SCHEDULE, project=project)
            execute_pull_run.delay(run.pk)
            queued += 1
    return queued


@shared_task
def execute_pull_run(run_id: int) -> str:
    # Claim the queued run in one statement: of two deliveries of the same message (even at the same
    # moment, on two workers) only one moves it out of "queued" and does the work.
    claimed = PullRun.objects.filter(pk=run_id, status=PullRun.Status.QUEUED).update(
        status=PullRun.Status.RUNNING, started_at=timezone.now()
    )
    run = PullRun.objects.select_related("organization", "project").get(pk=run_id)
    if not claimed:
        return run.status  # delivered twice: the other delivery does or did the work
    return execute_run(run).status


@shared_task
def backfill(organization_id: int, date_from: str, date_to: str, project_id: int | None = None) -> int:
    """Pull a date range (YYYY-MM-DD, inclusive) for one project or every pullable project of an organization,
    in windows of at most 31 days. Returns the pull run's id; its record shows progress and the outcome."""
    organization = Organization.objects.get(pk=organization_id)
    project = Project.objects.get(pk=project_id, organization=organization) if project_id else None
    run = create_run(
        organization,
        date.fromisoformat(date_from),
        date.fromisoformat(date_to),
        trigger=PullRun.Trigger.CONSOLE,
        project=project,
    )
    execute_pull_run(run.pk)
    return run.pk
