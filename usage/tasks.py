"""Celery tasks: thin wrappers that create or load a pull run and execute it (usage.pulling)."""

from celery import shared_task
from django.utils import timezone

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
