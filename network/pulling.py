"""Pulling what Agora's RESTful APIs know of an organization's channels and calls, to complete what its
webhooks said: Agora advises against relying on webhooks alone, since a notification can be lost.

Two kinds of pull run (usage.models.PullRun with kind "channels" or "calls"), each over every enabled project of
an organization with an upstream (or one project), with the usage pull's client (retries, validation, pacing),
run record, execute task and reaper:

- channels (every minute): the online channel list (/dev/v1/channel) and the users of each channel
  (/dev/v1/channel/user), reconciled with ChannelUser. A user listed but not online in the console joined while
  their join notification was lost: they come online (a new row starts at sequence 0; a known row keeps its
  last clientSeq, so the notifications that follow still apply in order). A user online in the console but not
  listed left while their leave notification was lost: they go offline (now, no reason). A row a webhook wrote
  after the pull began is never touched: the notification is newer than the list. Agora allows 20 channel
  queries a second per account, so a run queries at most NETWORK_PULL_MAX_CHANNELS channels, paced at
  NETWORK_CHANNEL_QPS: channels whose user count differs from the console's first; the others in turns.
- calls (every 5 minutes): Agora Analytics' calls of the last NETWORK_CALLS_WINDOW_MINUTES (/call/lists),
  upserted by call id, a call a webhook opened (101) in the same channel within a minute of its start getting
  the id, so one call is one row. Then, for ended calls not detailed since they ended (at most
  NETWORK_PULL_MAX_CALL_DETAILS a run, once Analytics' data delay has passed), their sessions (/call/sessions)
  and metrics (/call/metrics), which replace what the console held: one transaction per call; a call that
  fails leaves the others be. NETWORK_ANALYTICS_PLAN sets the windows, look-back and pace Agora allows.

A run's resume point is the last project done (its counts and errors are saved with it); the project under way
when a worker is lost is pulled again by the next execution, which writes the same rows.
"""

import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from accounts import audit
from accounts.models import Membership, Organization, User
from console.refusals import RuleViolation
from projects.models import Project
from usage.client import CallEntry, ChannelUsers, Metrics, SessionEntry, UpstreamClient, UpstreamError
from usage.models import PullRun, Upstream
from usage.pulling import (
    ACTIVE,
    RunTakenOver,
    error_text,
    pullable_projects,
    recorded_errors,
    register_kind,
    save_if_still_mine,
)
from usage.pulling import create_run as create_usage_run

from . import ncs
from .models import Call, CallSession, ChannelUser, MetricSeries

logger = logging.getLogger(__name__)

# Registered with accounts.audit when the app starts (apps.py).
AUDIT_ACTIONS = {
    "network.pull_started": "Channel or call pull started",
    "network.pull_resumed": "Channel or call pull re-queued after its worker was lost",
    "network.pull_abandoned": "Channel or call pull failed after its worker was lost too often",
}

KINDS = (PullRun.Kind.CHANNELS, PullRun.Kind.CALLS)
MERGE_WITHIN = timedelta(seconds=60)  # a webhook's call and a pulled one starting this close are one call
BATCH = 500  # ids per IN (...) list


@dataclass(frozen=True)
class AnalyticsPlan:
    """What an Agora Analytics plan allows (reference 3.1): how far back a query may reach, the longest window
    of a call list and of a call's sessions and metrics, and requests per second."""

    look_back: timedelta
    list_span: timedelta
    detail_span: timedelta
    per_second: float


PLANS = {
    "standard": AnalyticsPlan(timedelta(days=1), timedelta(hours=8), timedelta(hours=1), 1),
    "premium": AnalyticsPlan(timedelta(days=7), timedelta(hours=16), timedelta(hours=3), 3),
    "enterprise": AnalyticsPlan(timedelta(days=15), timedelta(hours=24), timedelta(hours=6), 10),
}


def analytics_plan() -> AnalyticsPlan:
    return PLANS[settings.NETWORK_ANALYTICS_PLAN]


def _min_interval(kind: str, upstream: Upstream) -> float:
    """Seconds between two requests of a run of `kind` (channel queries: none when NETWORK_CHANNEL_QPS is 0;
    analytics: the plan's pace unless NETWORK_ANALYTICS_QPS says otherwise). The built-in sandbox sets no
    request limits: no pace."""
    if upstream.is_sandbox:
        return 0.0
    if kind == PullRun.Kind.CHANNELS:
        per_second = settings.NETWORK_CHANNEL_QPS
    else:
        per_second = settings.NETWORK_ANALYTICS_QPS or analytics_plan().per_second
    return 1 / per_second if per_second > 0 else 0.0


# Runs --------------------------------------------------------------------------------------------------


def create_run(
    organization: Organization,
    kind: str,
    *,
    trigger: str,
    project: Project | None = None,
    user: User | None = None,
) -> PullRun:
    if kind not in KINDS:
        raise ValueError(f"Not a network pull: {kind!r}")
    now = timezone.now()
    day_from = (now - settings.NETWORK_CALLS_WINDOW).date() if kind == PullRun.Kind.CALLS else now.date()
    return create_usage_run(organization, day_from, now.date(), trigger=trigger, project=project, user=user, kind=kind)


def pending(organization: Organization, kind: str) -> QuerySet[PullRun]:
    return PullRun.objects.filter(organization=organization, kind=kind, status__in=ACTIVE)


def schedule(kind: str) -> list[int]:
    """A run of `kind` for every organization with an upstream and a project to pull, unless one is queued or
    running already (a run still going, or this task delivered twice). Returns the new runs' ids, to send."""
    run_ids = []
    for upstream in Upstream.objects.select_related("organization").order_by("pk"):
        if not upstream.effective_url or not pullable_projects(upstream.organization).exists():
            continue
        with transaction.atomic():
            Upstream.objects.select_for_update().filter(pk=upstream.pk).first()  # one scheduler at a time
            if not pending(upstream.organization, kind).exists():
                run_ids.append(create_run(upstream.organization, kind, trigger=PullRun.Trigger.SCHEDULE).pk)
    return run_ids


def forget_old_runs(now: datetime | None = None) -> int:
    """Remove finished channel and call runs older than NETWORK_PULL_RUNS_KEPT (the schedule makes hundreds a
    day). Returns how many."""
    cutoff = (now or timezone.now()) - settings.NETWORK_PULL_RUNS_KEPT
    old = PullRun.objects.filter(kind__in=KINDS, created_at__lt=cutoff).exclude(status__in=ACTIVE)
    return old.delete()[1].get(PullRun._meta.label, 0)


@transaction.atomic
def start_pull(
    actor: Membership, kind: str, project: Project | None = None, *, request: HttpRequest | None = None
) -> PullRun:
    """A console pull of `kind` for one project (None: every enabled project, for a role that sees them all),
    queued once the transaction commits. Refused without an upstream, or while one of this kind is pending.
    The caller fetched `project` within the actor's scope and checked channels "manage"."""
    if kind not in KINDS:
        raise RuleViolation("Choose channels or calls.", field="kind")
    if project is None and not actor.role.all_projects:
        raise RuleViolation("Your role sees selected projects only: choose one of them.", field="project")
    if not Upstream.objects.select_for_update().filter(organization=actor.organization_id).exists():
        raise RuleViolation("No upstream is configured: set one up under Usage → Settings first.")
    if pending(actor.organization, kind).exists():
        raise RuleViolation(f"A {PullRun.Kind(kind).label.lower()} pull is already queued or running.")
    run = create_run(actor.organization, kind, trigger=PullRun.Trigger.CONSOLE, project=project, user=actor.user)
    target = project.name if project else "All enabled projects"
    audit.record(
        "network.pull_started",
        request=request,
        actor=actor.user,
        organization=actor.organization,
        project=project,
        target=target,
        run=run.pk,
        kind=kind,
    )
    transaction.on_commit(lambda: _enqueue(run.pk))
    return run


def _enqueue(run_id: int) -> None:
    from usage.tasks import execute_pull_run

    try:
        execute_pull_run.delay(run_id)
    except Exception:  # the broker is down: say so rather than leave a run queued forever
        logger.exception("Could not queue pull run %s", run_id)
        PullRun.objects.filter(pk=run_id, status=PullRun.Status.QUEUED).update(
            status=PullRun.Status.FAILED,
            error="Could not queue the pull: the task queue is unavailable.",
            finished_at=timezone.now(),
        )


# Executing a run ---------------------------------------------------------------------------------------


def execute(
    run: PullRun, *, client: UpstreamClient | None = None, progress: Callable[[PullRun], None] | None = None
) -> PullRun:
    """Pull the run's kind for its project, or every pullable project of its organization by id (after the
    resume point of a run re-queued when its worker was lost)."""
    began = timezone.now()
    errors = _begin(run)
    upstream = Upstream.objects.filter(organization=run.organization).first()
    if upstream is None:
        return _finish(run, [*errors, "This organization has no upstream configured."])
    client = client or UpstreamClient.for_upstream(upstream)
    client.min_interval = _min_interval(run.kind, upstream)
    kind = ChannelPull if run.kind == PullRun.Kind.CHANNELS else CallPull
    pull = kind(run, client, began, errors, progress)
    try:
        projects = _projects_left(run)
        for index, project in enumerate(projects):
            pull.project(project, share=pull.budget // (len(projects) - index))
            pull.checkpoint(project)
    except RunTakenOver:
        logger.warning("Pull run %s was re-queued while this worker still ran it; this worker leaves it.", run.pk)
        return run
    except (Exception, KeyboardInterrupt) as error:
        pull.count_attempts()
        _finish(run, [*errors, f"The pull stopped on an unexpected error ({type(error).__name__})."])
        raise
    pull.count_attempts()
    if pull.skipped:
        logger.warning(
            "Pull run %s (%s) left %d for the next runs: %s.", run.pk, run.kind, pull.skipped, pull.limit_text
        )
    return _finish(run, errors)


def _projects_left(run: PullRun) -> list[Project]:
    if run.project is not None:
        return [run.project] if run.done_through_project is None else []
    projects = pullable_projects(run.organization).order_by("pk")
    if run.done_through_project is not None:
        projects = projects.filter(pk__gt=run.done_through_project)
    return list(projects)


def _begin(run: PullRun) -> list[str]:
    """Mark the run running; a run with a resume point keeps its counts, start and errors (returned)."""
    now = timezone.now()
    run.status, run.finished_at, run.heartbeat_at = PullRun.Status.RUNNING, None, now
    if run.done_through_project is not None:
        run.save()
        return recorded_errors(run.error)
    run.started_at = now
    run.windows_total = run.windows_done = run.windows_failed = run.rows_written = run.attempts = 0
    run.error = ""
    run.save()
    return []


COUNTS = ["windows_total", "windows_done", "windows_failed", "rows_written", "attempts", "error", "heartbeat_at"]


def _finish(run: PullRun, errors: list[str]) -> PullRun:
    if not errors:
        run.status = PullRun.Status.SUCCEEDED
    elif run.windows_done:
        run.status = PullRun.Status.PARTIAL
    else:
        run.status = PullRun.Status.FAILED
    run.error = error_text(errors)
    run.finished_at = run.heartbeat_at = timezone.now()
    run.done_through_project = None
    if not save_if_still_mine(run, ["status", "finished_at", "done_through_project", *COUNTS]):
        logger.warning("Pull run %s was re-queued while this worker still ran it; its outcome is not saved.", run.pk)
    return run


class Pull:
    """One execution of a run: its units of work (a project's listing, a channel's users, a call's details)
    counted in the run's windows, its errors, and the budget of queries left."""

    limit_text = ""

    def __init__(
        self,
        run: PullRun,
        client: UpstreamClient,
        began: datetime,
        errors: list[str],
        progress: Callable[[PullRun], None] | None,
    ) -> None:
        self.run, self.client, self.began, self.errors, self.progress = run, client, began, errors, progress
        self.attempts_before = client.attempts - run.attempts  # earlier executions' requests count too
        self.budget = 0
        self.skipped = 0

    def project(self, project: Project, share: int) -> None:
        raise NotImplementedError

    def to_do(self, units: int) -> None:
        self.run.windows_total += units

    def done(self, rows: int = 0) -> None:
        self.run.windows_done += 1
        self.run.rows_written += rows
        self._beat()

    def failed(self, error: str) -> None:
        self.run.windows_failed += 1
        self.errors.append(error)
        self._beat()

    def count_attempts(self) -> None:
        self.run.attempts = self.client.attempts - self.attempts_before

    def _beat(self) -> None:
        """A sign of life (the counts are saved at the end of each project, with the resume point)."""
        self.count_attempts()
        self.run.heartbeat_at = timezone.now()
        if not save_if_still_mine(self.run, ["heartbeat_at"]):
            raise RunTakenOver(self.run.pk)
        if self.progress:
            self.progress(self.run)

    def checkpoint(self, project: Project) -> None:
        """The project is done: save the counts and errors with the resume point after it."""
        self.count_attempts()
        self.run.done_through_project = project.pk
        self.run.error = error_text(self.errors)
        self.run.heartbeat_at = timezone.now()
        if not save_if_still_mine(self.run, ["done_through_project", *COUNTS]):
            raise RunTakenOver(self.run.pk)


# Channels ----------------------------------------------------------------------------------------------


class ChannelPull(Pull):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.budget = settings.NETWORK_PULL_MAX_CHANNELS
        self.limit_text = (
            f"channels not queried (at most NETWORK_PULL_MAX_CHANNELS = {self.budget} a run, "
            "Agora allows 20 channel queries a second per account)"
        )

    def project(self, project: Project, share: int) -> None:
        self.to_do(1)
        try:
            listed = self.client.online_channels(project.app_id)
        except UpstreamError as error:
            self.failed(f"{project.name}: listing its online channels failed: {error}")
            return
        self.done()
        order = channels_to_query(listed, online_counts(project), seed=self.run.pk)
        self.to_do(len(order))
        chosen = order[:share]
        self.budget -= len(chosen)
        self.skipped += len(order) - len(chosen)
        for channel_name in chosen:
            try:
                answer = self.client.channel_users(project.app_id, channel_name)
            except UpstreamError as error:
                self.failed(f"{project.name}, channel {channel_name}: {error}")
                continue
            with transaction.atomic():
                rows = reconcile_channel(project, channel_name, answer, self.began)
            self.done(rows)


def online_counts(project: Project) -> dict[str, int]:
    """The console's online users per channel of the project."""
    rows = ChannelUser.objects.filter(project=project, online=True).values("channel_name").annotate(users=Count("id"))
    return {row["channel_name"]: row["users"] for row in rows}


def channels_to_query(listed: dict[str, int], known: dict[str, int], *, seed: int) -> list[str]:
    """The channels whose users to ask for, most needed first: those whose user count differs from the
    console's (a join or leave notification was lost; a channel the console thinks online that Agora no longer
    lists is one), by name; then the others, in an order that changes from run to run (a lost role change, or a
    lost join and a lost leave in one channel, keep the count as it was)."""
    differing = sorted(name for name in listed.keys() | known.keys() if listed.get(name, 0) != known.get(name, 0))
    same = sorted(name for name, count in listed.items() if count == known.get(name, 0))
    random.Random(seed).shuffle(same)
    return differing + same


def listed_roles(answer: ChannelUsers) -> dict[int, int]:
    """uid -> the console's role (ncs.HOST, AUDIENCE, COMMUNICATION) of the users Agora lists."""
    roles = dict.fromkeys(answer.communication, ncs.COMMUNICATION)
    roles.update(dict.fromkeys(answer.audience, ncs.AUDIENCE))
    roles.update(dict.fromkeys(answer.hosts, ncs.HOST))
    return roles


def _publishes(role: int) -> bool:
    # Hosts and communication users both publish: Agora lists v4 communication users as broadcasters, and a
    # v4 SDK in the communication profile sends host events (103): neither is a role change.
    return role != ncs.AUDIENCE


def reconcile_channel(project: Project, channel_name: str, answer: ChannelUsers, began: datetime) -> int:
    """Make the console's users of one channel those Agora lists, leaving alone every row a webhook wrote since
    `began` (the condition is in each UPDATE, so a webhook applied meanwhile wins). Returns the rows written."""
    now = timezone.now()
    listed = listed_roles(answer)
    rows = ChannelUser.objects.filter(project=project, channel_name=channel_name)
    known = {uid: (online, role) for uid, online, role in rows.values_list("uid", "online", "role")}
    untouched = rows.filter(updated_at__lt=began)
    # Listed, never seen: joined while the notification was lost. From sequence 0: any notification applies.
    new = [
        ChannelUser(
            project=project,
            channel_name=channel_name,
            uid=uid,
            role=role,
            online=True,
            last_client_seq=0,
            joined_at=now,
            updated_at=now,
        )
        for uid, role in listed.items()
        if uid not in known
    ]
    ChannelUser.objects.bulk_create(new, ignore_conflicts=True, batch_size=BATCH)  # a webhook's row wins
    written = len(new)
    for role in set(listed.values()):
        back = [uid for uid, r in listed.items() if r == role and uid in known and not known[uid][0]]
        written += _update(
            untouched.filter(online=False),
            back,
            online=True,
            role=role,
            joined_at=now,
            left_at=None,
            leave_reason=None,
            updated_at=now,
        )
        switched = [
            uid
            for uid, r in listed.items()
            if r == role and uid in known and known[uid][0] and _publishes(known[uid][1]) != _publishes(role)
        ]
        written += _update(untouched.filter(online=True), switched, role=role, updated_at=now)
    # Online but not listed: left while the notification was lost (audience members past the first 10,000
    # Agora lists are there but unnamed: only a complete list says who left).
    gone = [
        uid
        for uid, (online, role) in known.items()
        if online and uid not in listed and (answer.audience_complete or role != ncs.AUDIENCE)
    ]
    written += _update(
        untouched.filter(online=True), gone, online=False, left_at=now, leave_reason=None, updated_at=now
    )
    return written


def _update(rows: QuerySet, uids: list[int], **changes: Any) -> int:
    return sum(rows.filter(uid__in=uids[at : at + BATCH]).update(**changes) for at in range(0, len(uids), BATCH))


# Calls -------------------------------------------------------------------------------------------------


class CallPull(Pull):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.plan = analytics_plan()
        self.budget = settings.NETWORK_PULL_MAX_CALL_DETAILS
        self.limit_text = f"ended calls not detailed (at most NETWORK_PULL_MAX_CALL_DETAILS = {self.budget} a run)"

    def project(self, project: Project, share: int) -> None:
        self.to_do(1)
        start = self.began - min(settings.NETWORK_CALLS_WINDOW, self.plan.look_back)
        try:
            entries = self.client.calls(project.app_id, start, self.began, span=self.plan.list_span)
        except UpstreamError as error:
            self.failed(f"{project.name}: listing its calls failed: {error}")
        else:
            try:
                with transaction.atomic():
                    for entry in entries:
                        upsert_call(project, entry)
            except IntegrityError:  # another pull wrote one of these calls at the same moment
                self.failed(f"{project.name}: its calls changed while they were written; the next run goes on.")
            else:
                self.done(len(entries))
        waiting = calls_to_detail(project, self.began, self.plan)
        count = waiting.count()
        chosen = list(waiting[:share])
        self.to_do(count)
        self.budget -= len(chosen)
        self.skipped += count - len(chosen)
        for call in chosen:
            self.detail(project, call)

    def detail(self, project: Project, call: Call) -> None:
        question = (project.app_id, call.call_id, call.started_at, call.ended_at or self.began)  # it ended
        try:
            sessions = self.client.call_sessions(*question, span=self.plan.detail_span)
            sids = [session.sid for session in sessions]
            series = self.client.call_metrics(*question, sids, span=self.plan.detail_span) if sids else {}
        except UpstreamError as error:
            self.failed(f"{project.name}, call {call.call_id} in {call.channel_name}: {error}")
            return
        try:
            with transaction.atomic():
                rows = write_details(call, sessions, series)
        except IntegrityError:  # another pull detailed it at the same moment
            self.failed(f"{project.name}, call {call.call_id}: changed while its details were written.")
        else:
            self.done(rows)


def calls_to_detail(project: Project, began: datetime, plan: AnalyticsPlan) -> QuerySet[Call]:
    """Calls with Agora's id that ended, once Analytics had time to know all of them (its data delay), within
    what the plan lets us ask about, not detailed since they ended: the oldest first (before they age out)."""
    return (
        Call.objects.filter(
            project=project,
            ended_at__lte=began - settings.NETWORK_CALL_DETAILS_DELAY,
            started_at__gt=began - plan.look_back + timedelta(minutes=5),
        )
        .exclude(call_id="")
        .filter(Q(details_pulled_at__isnull=True) | Q(details_pulled_at__lt=F("ended_at")))
        .order_by("ended_at", "pk")
    )


def upsert_call(project: Project, entry: CallEntry) -> Call:
    """The call's one row: found by Agora's call id, or the call a webhook opened (101) in the same channel within
    a minute of its start, which gets the id; else a new one. A webhook's row for a call already pulled (its 101
    arrived late) is folded into the pulled one."""
    calls = Call.objects.select_for_update().filter(project=project)
    call = calls.filter(call_id=entry.call_id).first()
    twin = _webhook_twin(calls, entry)
    if call is None:
        call = twin or Call(project=project, channel_name=entry.channel_name)
        call.call_id = entry.call_id
    elif twin is not None:
        call.ended_at = call.ended_at or twin.ended_at
        call.last_uid = call.last_uid if call.last_uid is not None else twin.last_uid
        twin.delete()
    call.started_at = entry.started_at
    if entry.finished:
        call.ended_at = entry.ended_at
    figures = {
        "peak_users": entry.peak_users,
        "accumulated_users": entry.accumulated_users,
        "audio_freeze_rate": entry.audio_freeze_rate,
        "video_freeze_rate": entry.video_freeze_rate,
    }
    for name, value in figures.items():
        if value is not None:
            setattr(call, name, value)
    call.save()
    return call


def _webhook_twin(calls: QuerySet[Call], entry: CallEntry) -> Call | None:
    """The call without an id that a webhook opened in the channel closest to the entry's start, within a
    minute of it, and not ended before it started (that one was the call before)."""
    near = calls.filter(
        Q(ended_at__isnull=True) | Q(ended_at__gte=entry.started_at),
        channel_name=entry.channel_name,
        call_id="",
        started_at__gte=entry.started_at - MERGE_WITHIN,
        started_at__lte=entry.started_at + MERGE_WITHIN,
    )
    return min(near, key=lambda call: (abs(call.started_at - entry.started_at), call.pk), default=None)


SESSION_FIELDS = [
    "project",
    "uid",
    "account",
    "network",
    "platform",
    "region",
    "speaker",
    "roles",
    "sdk_version",
    "device_type",
    "joined_at",
    "left_at",
    "finished",
    "audio_freeze_rate",
    "video_freeze_rate",
]


TEXT_FIELDS = ("account", "network", "platform", "region", "sdk_version", "device_type")
TEXT_LENGTHS = {field.name: field.max_length for field in CallSession._meta.fields if field.name in TEXT_FIELDS}


def _session_row(call: Call, entry: SessionEntry) -> CallSession:
    """The row of a session, its free texts cut to their columns' lengths."""
    texts = {name: getattr(entry, name)[: TEXT_LENGTHS[name]] for name in TEXT_FIELDS}
    return CallSession(
        project_id=call.project_id,
        call=call,
        sid=entry.sid,
        uid=entry.uid,
        speaker=entry.speaker,
        roles=list(entry.roles),
        joined_at=entry.joined_at,
        left_at=entry.left_at,
        finished=entry.finished,
        audio_freeze_rate=entry.audio_freeze_rate,
        video_freeze_rate=entry.video_freeze_rate,
        **texts,
    )


def write_details(call: Call, sessions: Iterable[SessionEntry], series: Metrics) -> int:
    """Replace the call's sessions and metric series with those pulled (a second pull leaves the same rows:
    upserted by their keys, the ones no longer there removed) and mark it detailed. Returns the rows written."""
    sessions = list(sessions)
    pulled = {entry.sid for entry in sessions}
    held = dict(CallSession.objects.filter(call=call).values_list("sid", "pk"))
    _delete(CallSession.objects.all(), [pk for sid, pk in held.items() if sid not in pulled])
    CallSession.objects.bulk_create(
        [_session_row(call, entry) for entry in sessions],
        update_conflicts=True,
        unique_fields=["call", "sid"],
        update_fields=SESSION_FIELDS,
        batch_size=BATCH,
    )
    ids = dict(CallSession.objects.filter(call=call).values_list("sid", "pk"))
    wanted = {
        (ids[sid], mid, peer): points
        for sid, items in series.items()
        if sid in ids
        for (mid, peer), points in items.items()
    }
    stored = MetricSeries.objects.filter(session__call=call).values_list("pk", "session_id", "mid", "peer_uid")
    _delete(MetricSeries.objects.all(), [pk for pk, *key in stored if tuple(key) not in wanted])
    MetricSeries.objects.bulk_create(
        [MetricSeries(session_id=s, mid=m, peer_uid=p, points=points) for (s, m, p), points in wanted.items()],
        update_conflicts=True,
        unique_fields=["session", "mid", "peer_uid"],
        update_fields=["points"],
        batch_size=BATCH,
    )
    Call.objects.filter(pk=call.pk).update(details_pulled_at=timezone.now())
    return len(sessions) + len(wanted)


def _delete(rows: QuerySet, pks: list[int]) -> None:
    for at in range(0, len(pks), BATCH):
        rows.filter(pk__in=pks[at : at + BATCH]).delete()


register_kind(
    PullRun.Kind.CHANNELS, execute, resumed_action="network.pull_resumed", abandoned_action="network.pull_abandoned"
)
register_kind(
    PullRun.Kind.CALLS, execute, resumed_action="network.pull_resumed", abandoned_action="network.pull_abandoned"
)
