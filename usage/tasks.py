"""Celery tasks: thin wrappers that create or load a pull run and execute it (usage.pulling), and the reaper
that re-queues runs whose worker was lost. Tasks are acknowledged when they end (CELERY_TASK_ACKS_LATE), so
any of these may be delivered again after a worker dies: each is safe to run twice."""

from celery import shared_task

from .client import UpstreamClient, UpstreamError
from .models import PullRun, Upstream
from .pulling import (
    ACTIVE,
    claim_run,
    create_run,
    execute_claimed,
    execute_run,
    pullable_projects,
    reap_stale_runs,
    recent_window,
    sync_mappings,
)


@shared_task
def pull_recent() -> int:
    """Every hour: yesterday and today for every enabled project of every organization with an upstream,
    one task per project. Returns how many were queued.

    A project whose scheduled pull of the same window is still queued or running is not queued again: so this
    task, delivered again after its worker died half-way, queues only the projects it had not reached."""
    day_from, day_to = recent_window()
    queued = 0
    for upstream in Upstream.objects.select_related("organization"):
        try:
            sync_mappings(upstream, UpstreamClient.for_upstream(upstream).projects())
        except UpstreamError:
            pass  # each project's run records the failure
        pending = PullRun.objects.filter(
            kind=PullRun.Kind.USAGE,
            trigger=PullRun.Trigger.SCHEDULE,
            date_from=day_from,
            date_to=day_to,
            status__in=ACTIVE,
        ).values("project")
        for project in pullable_projects(upstream.organization).exclude(pk__in=pending):
            run = create_run(upstream.organization, day_from, day_to, trigger=PullRun.Trigger.SCHEDULE, project=project)
            execute_pull_run.delay(run.pk)
            queued += 1
    return queued


@shared_task
def execute_pull_run(run_id: int) -> str:
    claimed = claim_run(run_id)
    run = PullRun.objects.select_related("organization", "project").get(pk=run_id)
    if not claimed:
        return run.status  # delivered twice: the other delivery does or did the work
    if run.kind == PullRun.Kind.USAGE:
        return execute_run(run).status
    return execute_claimed(run).status  # another kind's run (network's channel and call pulls)


@shared_task
def reap_stale_pull_runs() -> int:
    """Every minute: send the pull runs whose worker was lost to a worker again (usage.pulling.reap_stale_runs).
    Returns how many were sent."""
    run_ids = reap_stale_runs()
    for run_id in run_ids:
        execute_pull_run.delay(run_id)
    return len(run_ids)
