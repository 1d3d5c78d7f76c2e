"""Pulling usage from an upstream into DailyUsage rows: idempotent, locked per project, recorded.

`create_run` records what is to be pulled; `execute_run` does it (from a Celery task, the pull_usage
command or seed_demo). A run walks each project's window in chunks of at most 31 days; each chunk is
fetched, validated and upserted on its own, so a failed chunk writes nothing and the others still land.
Running the same window again replaces rows, never adds: totals are the same as after one run.

A run survives its worker. Each window's rows are written in one transaction with the run's progress, its
resume point and a heartbeat. `reap_stale_runs` (on the beat schedule) re-queues a running run whose heartbeat
is older than PULL_RUN_STALE_AFTER and releases its project lock; the next execution goes on after the last
window written, so a resumed run ends with the same rows and counts as a run that was never interrupted.

Runs of other kinds (network's channel and call pulls, PullRun.kind) share the record, the execute task and
the reaper: their app registers the function that executes them (`register_kind`).
"""

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts import audit
from accounts.models import Organization, User
from console import metrics
from console.dates import utc_today
from console.refusals import RuleViolation
from projects.models import Project

from .client import UpstreamClient, UpstreamError
from .models import DURATION_FIELDS, ERROR_MAX, DailyUsage, ProjectMapping, PullLock, PullRun, Upstream
from .signals import usage_updated

logger = logging.getLogger(__name__)

# Registered with accounts.audit when the app starts (apps.py).
AUDIT_ACTIONS = {
    "usage.pull_resumed": "Usage pull re-queued after its worker was lost",
    "usage.pull_abandoned": "Usage pull failed after its worker was lost too often",
}


WINDOW_DAYS = 31
# A lock not refreshed for this long is taken over: its holder died and no reaper released it (beat is not
# running), since the reaper releases a lost run's lock after PULL_RUN_STALE_AFTER, sooner than this.
LOCK_TTL = timedelta(minutes=15)
MAX_RESUMES = 5  # a run whose worker is lost this often (a window that kills it?) ends as failed instead
ERRORS_LISTED = 50  # a run's error text lists the first ones and counts the rest
MORE_ERRORS = re.compile(r"… and (\d+) more")


class RunTakenOver(Exception):
    """The reaper re-queued this execution's run (its heartbeat had stopped): another execution owns it now."""


def windows(day_from: date, day_to: date, size: int = WINDOW_DAYS) -> list[tuple[date, date]]:
    chunks, start = [], day_from
    while start <= day_to:
        end = min(start + timedelta(days=size - 1), day_to)
        chunks.append((start, end))
        start = end + timedelta(days=1)
    return chunks


def pullable_projects(organization: Organization) -> QuerySet[Project]:
    return Project.objects.filter(organization=organization, enabled=True, archived_at__isnull=True)


# Mapping console projects to upstream project ids -------------------------------------------------


def sync_mappings(upstream: Upstream, listed: list[dict]) -> int:
    """Match projects to the upstream's `listed` projects (`client.projects()`) by App ID (vendor_key);
    hand-edited mappings are kept. Returns matches."""
    by_app_id = {item["vendor_key"].lower(): item["id"] for item in listed}
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
def project_lock(project: Project, run: PullRun | None = None) -> Iterator[PullLock | None]:
    """Yields the project's pull lock while this process holds it for `run` (truthy), None if another one does.

    Only this holder's own lock row is released at the end: if it was taken over as stale meanwhile, or
    released by the reaper, the new holder's lock stays. `refresh_lock` keeps a long pull's lock from looking
    stale; the reaper releases the lock of a run whose worker was lost.
    """
    lock = _acquire(project, run)
    try:
        yield lock
    finally:
        if lock is not None:
            PullLock.objects.filter(pk=lock.pk).delete()


def refresh_lock(lock: PullLock) -> None:
    PullLock.objects.filter(pk=lock.pk).update(acquired_at=timezone.now())


def _acquire(project: Project, run: PullRun | None = None) -> PullLock | None:
    for _ in range(2):
        try:
            with transaction.atomic():
                return PullLock.objects.create(project=project, run=run)
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


@dataclass(frozen=True)
class RunKind:
    """How runs of one kind are executed, and what the audit log says when the reaper takes one over."""

    execute: Callable[[PullRun], PullRun]
    resumed_action: str
    abandoned_action: str


KINDS: dict[str, RunKind] = {}


def register_kind(
    kind: str, execute: Callable[[PullRun], PullRun], *, resumed_action: str, abandoned_action: str
) -> None:
    """Called by an app when it starts: its runs of `kind` are executed by `execute` (with a claimed run)."""
    KINDS[kind] = RunKind(execute, resumed_action, abandoned_action)


def execute_claimed(run: PullRun) -> PullRun:
    """Execute a run its worker claimed, with its kind's function."""
    return KINDS[run.kind].execute(run)


def create_run(
    organization: Organization,
    day_from: date,
    day_to: date,
    *,
    trigger: str,
    project: Project | None = None,
    user: User | None = None,
    kind: str = PullRun.Kind.USAGE,
) -> PullRun:
    if day_from > day_to:
        raise ValueError("The start date is after the end date.")
    return PullRun.objects.create(
        organization=organization,
        project=project,
        kind=kind,
        trigger=trigger,
        started_by=user,
        date_from=day_from,
        date_to=day_to,
        heartbeat_at=timezone.now(),
    )


def claim_run(run_id: int) -> bool:
    """Move a queued run to running in one statement: of two deliveries of the same message (even at the
    same moment, on two workers) only one claims it and does the work."""
    return bool(
        PullRun.objects.filter(pk=run_id, status=PullRun.Status.QUEUED).update(
            status=PullRun.Status.RUNNING, heartbeat_at=timezone.now()
        )
    )


def execute_run(
    run: PullRun,
    *,
    business: str = "default",
    client: UpstreamClient | None = None,
    progress: Callable[[PullRun], None] | None = None,
) -> PullRun:
    """Pull the run's window for its project (or every pullable project of its organization, by id).
    A run with a resume point (re-queued after its worker was lost) goes on after the last window written."""
    upstream = Upstream.objects.filter(organization=run.organization).first()
    errors = _begin(run)
    if upstream is None:
        return _finish(run, ["This organization has no usage upstream configured."])
    client = client or UpstreamClient.for_upstream(upstream)
    # run.attempts counts this run's requests: its earlier executions' and this client's from now on (a client
    # handed in may have made requests for someone else).
    attempts_before = client.attempts - run.attempts
    try:
        projects = [run.project] if run.project else list(pullable_projects(run.organization).order_by("pk"))
        chunks = windows(run.date_from, run.date_to)
        todo = [(project, _windows_left(run, project, chunks)) for project in projects]
        run.windows_total = run.windows_done + run.windows_failed + sum(len(left) for _, left in todo)
        save_if_still_mine(run, ["windows_total"])
        try:
            if any(not ProjectMapping.objects.filter(project=p).exists() for p, left in todo if left):
                sync_mappings(upstream, client.projects())
        except UpstreamError as error:
            errors.append(f"Listing the upstream's projects failed: {error}")
        for project, left in todo:
            if left:
                _pull_project(run, project, left, business, client, attempts_before, errors, progress)
    except RunTakenOver:
        logger.warning("Pull run %s was re-queued while this worker still ran it; this worker leaves it.", run.pk)
        return run
    except (Exception, KeyboardInterrupt) as error:
        # Record the end of the run (not left "running", nor resumed by the reaper) before the error goes on up.
        run.attempts = client.attempts - attempts_before
        # Its type only: the text of an unexpected error could carry anything. The traceback goes to the log.
        _finish(run, [*errors, f"The pull stopped on an unexpected error ({type(error).__name__})."])
        raise
    run.attempts = client.attempts - attempts_before
    _finish(run, errors)
    if run.rows_written:
        announce_usage_updated(run)
    return run


def _begin(run: PullRun) -> list[str]:
    """Mark the run running and return the errors it has recorded so far: a run with a resume point keeps
    its counts, start and errors; any other counts afresh (executed again, it must not add to old counts)."""
    now = timezone.now()
    run.status, run.finished_at, run.heartbeat_at = PullRun.Status.RUNNING, None, now
    if run.done_through_project is not None:
        run.save()
        return recorded_errors(run.error)
    run.started_at = now
    run.windows_done = run.windows_failed = run.rows_written = run.attempts = 0
    run.error = ""
    run.save()
    return []


def _windows_left(run: PullRun, project: Project, chunks: list[tuple[date, date]]) -> list[tuple[date, date]]:
    """The windows of `project` after the run's resume point (all of them when it has none)."""
    if run.done_through_project is None or project.pk > run.done_through_project:
        return chunks
    if project.pk < run.done_through_project:
        return []
    done_through = run.done_through_date or date.min
    return [(day_from, day_to) for day_from, day_to in chunks if day_to > done_through]


def announce_usage_updated(run: PullRun) -> None:
    """Tell the apps that read usage (billing's alerts) that an organization's usage changed. A receiver's
    failure is logged and does not fail the pull: the rows are stored either way."""
    for receiver, result in usage_updated.send_robust(sender=PullRun, organization=run.organization, run=run):
        if isinstance(result, Exception):
            logger.error("usage_updated receiver %r failed", receiver, exc_info=result)


def _pull_project(
    run: PullRun,
    project: Project,
    chunks: list[tuple[date, date]],
    business: str,
    client: UpstreamClient,
    attempts_before: int,
    errors: list[str],
    progress: Callable[[PullRun], None] | None,
) -> None:
    mapping = ProjectMapping.objects.filter(project=project).first()
    if mapping is None:
        errors.append(f"{project.name}: no upstream project has its App ID; set the mapping by hand.")
        _skip_windows(run, project, chunks, errors)
        return
    with project_lock(project, run) as lock:
        if not lock:
            errors.append(f"{project.name}: another pull of this project is running; try again later.")
            _skip_windows(run, project, chunks, errors)
            return
        for day_from, day_to in chunks:
            try:
                days = client.usage(mapping.upstream_project_id, day_from, day_to, business)
            except UpstreamError as error:
                days = None
                errors.append(f"{project.name} {day_from}..{day_to}: {error}")
            run.attempts = client.attempts - attempts_before
            # The window's rows and the run's progress in one transaction: a resumed run neither pulls a
            # written window again nor counts it twice.
            with transaction.atomic():
                if days is None:
                    run.windows_failed += 1
                else:
                    run.rows_written += upsert_days(project, business, days)
                    run.windows_done += 1
                _beat(run, project, day_to, errors)
            refresh_lock(lock)
            if progress:
                progress(run)


def _skip_windows(run: PullRun, project: Project, chunks: list[tuple[date, date]], errors: list[str]) -> None:
    run.windows_failed += len(chunks)
    _beat(run, project, chunks[-1][1], errors)


RESUME_POINT = ["done_through_project", "done_through_date"]
PROGRESS_FIELDS = [
    "windows_done",
    "windows_failed",
    "rows_written",
    "attempts",
    "error",
    "heartbeat_at",
    *RESUME_POINT,
]


def _beat(run: PullRun, project: Project, day_to: date, errors: list[str]) -> None:
    """Save the run's progress with a heartbeat and its resume point (`project`'s windows up to `day_to`)."""
    run.done_through_project, run.done_through_date = project.pk, day_to
    run.heartbeat_at = timezone.now()
    run.error = error_text(errors)
    if not save_if_still_mine(run, PROGRESS_FIELDS):
        raise RunTakenOver(run.pk)


def save_if_still_mine(run: PullRun, fields: list[str]) -> bool:
    """Save `fields` unless the reaper re-queued or ended the run meanwhile (a worker that stalled past
    PULL_RUN_STALE_AFTER and then woke up): that worker's figures must not overwrite the new execution's."""
    mine = PullRun.objects.filter(pk=run.pk, status=PullRun.Status.RUNNING, resumed_count=run.resumed_count)
    return bool(mine.update(**{name: getattr(run, name) for name in fields}))


def _finish(run: PullRun, errors: list[str]) -> PullRun:
    if not errors:
        run.status = PullRun.Status.SUCCEEDED
    elif run.windows_done:
        run.status = PullRun.Status.PARTIAL
    else:
        run.status = PullRun.Status.FAILED
    run.error = error_text(errors)
    run.finished_at = timezone.now()
    run.done_through_project = run.done_through_date = None  # nothing left to resume
    if not save_if_still_mine(run, ["status", "finished_at", "windows_total", *PROGRESS_FIELDS]):
        logger.warning("Pull run %s was re-queued while this worker still ran it; its outcome is not saved.", run.pk)
    else:
        metrics.count_finished_pull(run)
    return run


def error_text(errors: list[str]) -> str:
    text = "\n".join(errors[:ERRORS_LISTED])
    if len(errors) > ERRORS_LISTED:
        text += f"\n… and {len(errors) - ERRORS_LISTED} more"
    return text[:ERROR_MAX]


def recorded_errors(text: str) -> list[str]:
    """The errors behind a run's error text, for `error_text` to list again after more are added. Those only
    counted ("… and N more") come back as blank lines, which are counted and never listed."""
    lines = text.splitlines()
    more = MORE_ERRORS.fullmatch(lines[-1]) if len(lines) > ERRORS_LISTED else None
    if more:
        return lines[:-1] + [""] * int(more.group(1))
    return lines


# The reaper ----------------------------------------------------------------------------------------

ACTIVE = [PullRun.Status.QUEUED, PullRun.Status.RUNNING]


def reap_stale_runs() -> list[int]:
    """Runs whose worker is gone. A running run with no heartbeat for PULL_RUN_STALE_AFTER is re-queued
    (after MAX_RESUMES, failed); a queued run that no worker claimed in that time may have lost its message.
    Returns the ids of the runs to send to a worker (a second delivery of one does nothing)."""
    stale_before = timezone.now() - settings.PULL_RUN_STALE_AFTER
    candidates = PullRun.objects.filter(_silent(stale_before), status__in=ACTIVE)
    return [run_id for run_id in candidates.values_list("pk", flat=True) if _reap(run_id, stale_before)]


def _silent(stale_before: datetime) -> Q:
    return Q(heartbeat_at__lt=stale_before) | Q(heartbeat_at__isnull=True)


@transaction.atomic
def _reap(run_id: int, stale_before: datetime) -> bool:
    """One silent run, under its row lock: it may have beaten or ended since it was listed. True: send it."""
    run = PullRun.objects.select_for_update().filter(_silent(stale_before), pk=run_id, status__in=ACTIVE).first()
    if run is None:
        return False
    run.heartbeat_at = timezone.now()
    if run.status == PullRun.Status.QUEUED:
        logger.warning("Pull run %s has waited for a worker since %s; sending it again.", run.pk, run.created_at)
        run.save(update_fields=["heartbeat_at"])
        return True
    PullLock.objects.filter(run=run).delete()
    if run.resumed_count >= MAX_RESUMES:
        _abandon(run)
        return False
    run.status = PullRun.Status.QUEUED
    run.resumed_count += 1
    run.save(update_fields=["status", "resumed_count", "heartbeat_at"])
    logger.warning("Pull run %s lost its worker; re-queued (%d×).", run.pk, run.resumed_count)
    _record_reaped(run, KINDS[run.kind].resumed_action)
    return True


def _abandon(run: PullRun) -> None:
    lost = f"The worker running this pull was lost {run.resumed_count + 1} times; it is not resumed again."
    run.status, run.finished_at = PullRun.Status.FAILED, timezone.now()
    run.error = error_text([*recorded_errors(run.error), lost])
    run.done_through_project = run.done_through_date = None
    run.save(update_fields=["status", "finished_at", "error", "heartbeat_at", *RESUME_POINT])
    logger.error("Pull run %s lost its worker %d times; failed.", run.pk, run.resumed_count + 1)
    if run.kind == PullRun.Kind.USAGE:  # the usage pull metrics count usage runs only
        metrics.count_finished_pull(run)
    _record_reaped(run, KINDS[run.kind].abandoned_action)


def _record_reaped(run: PullRun, action: str) -> None:
    transaction.on_commit(metrics.runs_reaped.inc)
    audit.record(
        action,
        actor=None,
        organization=run.organization,
        project=run.project,
        target=run.project.name if run.project else "All enabled projects",
        run=run.pk,
        resumed_count=run.resumed_count,
        windows_written=run.windows_done + run.windows_failed,
        windows_total=run.windows_total,
    )


def recent_window(today: date | None = None) -> tuple[date, date]:
    """Yesterday and today (UTC): what the hourly pull refreshes."""
    today = today or utc_today()
    return today - timedelta(days=1), today


register_kind(
    PullRun.Kind.USAGE, execute_run, resumed_action="usage.pull_resumed", abandoned_action="usage.pull_abandoned"
)


def chosen_upstreams(org_slug: str | None, project_id: str | None) -> tuple[QuerySet[Upstream], Project | None]:
    """The upstreams a pull command works through (its --org and --project), in id order, and the project asked
    for; RuleViolation says which of them does not exist or that no upstream matches."""
    upstreams = Upstream.objects.select_related("organization").order_by("pk")
    if org_slug:
        if not Organization.objects.filter(slug=org_slug).exists():
            raise RuleViolation(f"No organization with the slug {org_slug!r}.")
        upstreams = upstreams.filter(organization__slug=org_slug)
    project = None
    if project_id:
        project = Project.objects.filter(project_id=project_id).first()
        if project is None:
            raise RuleViolation(f"No project with the ID {project_id!r}.")
        upstreams = upstreams.filter(organization=project.organization)
    if not upstreams.exists():
        raise RuleViolation("No organization with an upstream matches.")
    return upstreams, project
