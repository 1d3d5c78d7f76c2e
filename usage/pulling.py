"""Pulling usage from an upstream into DailyUsage rows: idempotent, locked per project, recorded.

`create_run` records what is to be pulled; `execute_run` does it (from a Celery task, the pull_usage
command or seed_demo). A run walks each project's window in chunks of at most 31 days; each chunk is
fetched, validated and upserted on its own, so a failed chunk writes nothing and the others still land.
Running the same window again replaces rows, never adds: totals are the same as after one run.
"""

import logging
from collections.abc import Callable
from contextlib import contextmanager
from datetime import date, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Organization
from projects.models import Project

from .client import UpstreamClient, UpstreamError
from .models import DURATION_FIELDS, DailyUsage, ProjectMapping, PullLock, PullRun, Upstream
from .signals import usage_updated

logger = logging.getLogger(__name__)

WINDOW_DAYS = 31
LOCK_TTL = timedelta(minutes=15)  # a lock older than this belongs to a worker that died


def windows(day_from: date, day_to: date, size: int = WINDOW_DAYS) -> list[tuple[date, date]]:
    chunks, start = [], day_from
    while start <= day_to:
        end = min(start + timedelta(days=size - 1), day_to)
        chunks.append((start, end))
        start = end + timedelta(days=1)
    return chunks


def pullable_projects(organization: Organization):
    return Project.objects.filter(organization=organization, enabled=True, archived_at__isnull=True)


# Mapping console projects to upstream project ids -------------------------------------------------


def sync_mappings(upstream: Upstream, client: UpstreamClient) -> int:
    """Match projects to upstream ids by App ID (vendor_key); hand-edited mappings are kept. Returns matches."""
    by_app_id = {item["vendor_key"].lower(): item["id"] for item in client.projects()}
    matched = 0
    for project in Project.objects.filter(organization=upstream.organization).select_related("usage_mapping"):
        upstream_id = by_app_id.get(project.app_id.lower())
        mapping = getattr(project, "usage_mapping", None)
        if upstream_id is None or (mapping is not None and not mapping.matched_automatically):
            continue
        ProjectMapping.objects.update_or_create(
            project=project,
            defaults={"upstream_project_id": upstream_id, "matched_automatically": True, "updated_at": timezone.now()},
        )
        matched += 1
    return matched


# Locking and writing ---------------------------------------------------------------------------


@contextmanager
def project_lock(project: Project):
    """Yields the project's pull lock while this process holds it (truthy), None if another one does.

    Only this holder's own lock row is released at the end: if it was taken over as stale meanwhile,
    the new holder's lock stays. `refresh_lock` keeps a long pull's lock from looking stale.
    """
    lock = _acquire(project)
    try:
        yield lock
    finally:
        if lock is not None:
            PullLock.objects.filter(pk=lock.pk).delete()


def refresh_lock(lock: PullLock) -> None:
    PullLock.objects.filter(pk=lock.pk).update(acquired_at=timezone.now())


def _acquire(project: Project) -> PullLock | None:
    for _ in range(2):
        try:
            with transaction.atomic():
                return PullLock.objects.create(project=project)
        except IntegrityError:
            stale = timezone.now() - LOCK_TTL
            if not PullLock.objects.filter(project=project, acquired_at__lt=stale).delete()[0]:
                return None
    return None


def upsert_days(project: Project, business: str, days: dict[date, dict]) -> int:
    """Write one row per day, replacing what a previous pull wrote for the same day."""
    now = timezone.now()
    rows = [
        DailyUsage(project=project, date=day, business=business, pulled_at=now, **columns)
        for day, columns in days.items()
    ]
    DailyUsage.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["project", "date", "business"],
        update_fields=[*DURATION_FIELDS.values(), "pulled_at"],
        batch_size=1000,
    )
    return len(rows)


# Runs ------------------------------------------------------------------------------------------


def create_run(organization, day_from: date, day_to: date, *, trigger: str, project=None, user=None) -> PullRun:
    if day_from > day_to:
        raise ValueError("The start date is after the end date.")
    return PullRun.objects.create(
        organization=organization,
        project=project,
        trigger=trigger,
        started_by=user,
        date_from=day_from,
        date_to=day_to,
    )


def execute_run(
    run: PullRun,
    *,
    business: str = "default",
    client: UpstreamClient | None = None,
    progress: Callable[[PullRun], None] | None = None,
) -> PullRun:
    """Pull the run's window for its project (or every pullable project of its organization)."""
    upstream = Upstream.objects.filter(organization=run.organization).first()
    run.status, run.started_at, run.finished_at = PullRun.Status.RUNNING, timezone.now(), None
    # Counted afresh: a run executed again (redelivered after its worker died) must not add to old counts.
    run.windows_done = run.windows_failed = run.rows_written = run.attempts = 0
    if upstream is None:
        return _finish(run, ["This organization has no usage upstream configured."])
    client = client or UpstreamClient.for_upstream(upstream)
    errors: list[str] = []
    attempts_before = client.attempts  # a client handed in may have made requests for someone else
    try:
        projects = [run.project] if run.project else list(pullable_projects(run.organization))
        chunks = windows(run.date_from, run.date_to)
        run.windows_total = len(projects) * len(chunks)
        run.save()
        try:
            if any(not ProjectMapping.objects.filter(project=p).exists() for p in projects):
                sync_mappings(upstream, client)
        except UpstreamError as error:
            errors.append(f"Listing the upstream's projects failed: {error}")
        for project in projects:
            _pull_project(run, project, chunks, business, client, attempts_before, errors, progress)
    except Exception as error:
        # Record the end of the run (not left "running" forever) before the error goes on up.
        run.attempts = client.attempts - attempts_before
        # Its type only: the text of an unexpected error could carry anything. The traceback goes to the log.
        _finish(run, [*errors, f"The pull stopped on an unexpected error ({type(error).__name__})."])
        raise
    run.attempts = client.attempts - attempts_before
    _finish(run, errors)
    if run.rows_written:
        announce_usage_updated(run)
    return run


def announce_usage_updated(run: PullRun) -> None:
    """Tell the apps that read usage (billing's alerts) that an organization's usage changed. A receiver's
    failure is logged and does not fail the pull: the rows are stored either way."""
    for receiver, result in usage_updated.send_robust(sender=PullRun, organization=run.organization, run=run):
        if isinstance(result, Exception):
            logger.error("usage_updated receiver %r failed", receiver, exc_info=result)


def _pull_project(run, project, chunks, business, client, attempts_before, errors, progress) -> None:
    mapping = ProjectMapping.objects.filter(project=project).first()
    if mapping is None:
        run.windows_failed += len(chunks)
        errors.append(f"{project.name}: no upstream project has its App ID; set the mapping by hand.")
        return
    with project_lock(project) as lock:
        if not lock:
            run.windows_failed += len(chunks)
            errors.append(f"{project.name}: another pull of this project is running; try again later.")
            return
        for day_from, day_to in chunks:
            try:
                days = client.usage(mapping.upstream_project_id, day_from, day_to, business)
                with transaction.atomic():
                    run.rows_written += upsert_days(project, business, days)
                run.windows_done += 1
            except UpstreamError as error:
                run.windows_failed += 1
                errors.append(f"{project.name} {day_from}..{day_to}: {error}")
            refresh_lock(lock)
            run.attempts = client.attempts - attempts_before
            PullRun.objects.filter(pk=run.pk).update(
                windows_done=run.windows_done,
                windows_failed=run.windows_failed,
                rows_written=run.rows_written,
                attempts=run.attempts,
            )
            if progress:
                progress(run)


def _finish(run: PullRun, errors: list[str]) -> PullRun:
    if not errors:
        run.status = PullRun.Status.SUCCEEDED
    elif run.windows_done:
        run.status = PullRun.Status.PARTIAL
    else:
        run.status = PullRun.Status.FAILED
    run.error = "\n".join(errors[:50]) + (f"\n… and {len(errors) - 50} more" if len(errors) > 50 else "")
    run.finished_at = timezone.now()
    run.save()
    return run


def recent_window(today: date | None = None) -> tuple[date, date]:
    """Yesterday and today (UTC): what the hourly pull refreshes."""
    today = today or timezone.now().date()
    return today - timedelta(days=1), today
