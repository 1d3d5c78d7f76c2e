from celery import shared_task

from usage.models import PullRun
from usage.tasks import execute_pull_run

from . import alerts, presence, pulling


@shared_task
def forget_old() -> tuple[int, int]:
    """Beat runs this every minute: users gone for over a minute, notices past their project's retention."""
    return presence.forget_old()


@shared_task
def check_quality_alerts() -> int:
    """Beat runs this every minute: each quality alert over its window; returns how many fired."""
    return len(alerts.check_alerts())


@shared_task
def pull_channels() -> int:
    """Beat runs this every minute: a channel pull for each organization with an upstream and none pending,
    executed by usage.tasks.execute_pull_run like every pull run (so a second delivery of this task queues
    nothing more); finished channel and call runs past NETWORK_PULL_RUNS_KEPT removed. Returns runs sent."""
    pulling.forget_old_runs()
    return _send(pulling.schedule(PullRun.Kind.CHANNELS))


@shared_task
def pull_calls() -> int:
    """Beat runs this every 5 minutes: a call pull for each organization with an upstream and none pending."""
    return _send(pulling.schedule(PullRun.Kind.CALLS))


def _send(run_ids: list[int]) -> int:
    for run_id in run_ids:
        execute_pull_run.delay(run_id)
    return len(run_ids)
