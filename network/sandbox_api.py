"""Agora's channel management and call analytics APIs, answered by the sandbox from the network it plays
(sandbox_network): who is online, kicking rules, calls, their sessions and metrics. Same authentication,
on/off switch and fault injection as the rest of the sandbox upstream (usage.sandbox.sandbox_endpoint); the
questions are checked and the answers shaped by agora_shapes, as the console's own endpoints do.

- An App ID that is not one of the caller's organization's active projects is answered as Agora answers an
  App ID it does not know: 400 {"message": "invalid appid"}.
- Kicking rules act on the simulated users at once: a join_channel rule pushes out the users online that it
  names (leave reason 3, and the notifications to the console, sent after the answer); `time` 0 is a
  one-shot kick that keeps nothing; a rule in force refuses the joins it names; publish_* rules are kept.
- Analytics answers are computed from what was simulated (sandbox_quality), so call freeze rates, session
  freeze rates and metrics agree. Limits are those of Agora's Enterprise plan: 15 days back, 24 hours per
  call search, 6 hours per sessions or metrics question; beyond them Agora's code 300 messages in an answer
  of status 200, as Agora sends them. Other refusals answer {"code": ..., "message": ...} with that status.
"""

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from projects.models import Project
from usage.agora_serializers import QueryError
from usage.models import Upstream
from usage.sandbox import sandbox_endpoint

from . import agora_shapes, live, ncs, sandbox_quality
from .models import SandboxCall, SandboxRule, SandboxSession
from .sandbox_network import (
    PLATFORM_NAMES,
    Courier,
    Network,
    deliver_later,
    presence_of,
    roles_of,
    seconds,
)

LOOKBACK = timedelta(days=15)
LONGEST_SEARCH = timedelta(hours=24)
LONGEST_DETAILS = timedelta(hours=6)
LIMIT = 300  # Agora's code for a question beyond the plan's limits
RULE_METHODS = ("GET", "POST", "PUT", "DELETE")


def _message(text: str, status: int) -> JsonResponse:
    return JsonResponse({"message": text}, status=status)


def channel_api(view: Callable) -> Callable:
    """Refusals as the channel management API words them: {"message": ...} with the status."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except QueryError as error:
            return _message(error.message, error.status)

    return wrapped


def analytics_api(view: Callable) -> Callable:
    """Refusals as Agora Analytics words them: {"code": ..., "message": ...}; a limit (code 300) in a 200."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except QueryError as error:
            status = 200 if error.status == LIMIT else error.status
            return JsonResponse({"code": error.status, "message": error.message}, status=status)

    return wrapped


def project_for(upstream: Upstream, app_id: object) -> Project:
    project = None
    if isinstance(app_id, str) and app_id:
        project = (
            Project.objects.active()
            .filter(organization=upstream.organization, app_id=app_id.lower())
            .prefetch_related("certificates")
            .first()
        )
    if project is None:
        raise QueryError("invalid appid")
    return project


def online(project: Project) -> QuerySet[SandboxSession]:
    return SandboxSession.objects.filter(call__project=project, left_at__isnull=True)


# Channels (reference section 4.1 to 4.3) ----------------------------------------------------------------


@sandbox_endpoint
@channel_api
def channels(request: HttpRequest, upstream: Upstream, appid: str) -> JsonResponse:
    project = project_for(upstream, appid)
    page_no, page_size = agora_shapes.page(request.GET, agora_shapes.CHANNEL_PAGE_SIZE, first=0)
    rows = (
        online(project)
        .values("call__channel_name")
        .annotate(users=Count("id"))
        .order_by("-users", "call__channel_name")
    )
    total = rows.count()
    start = page_no * page_size
    page = rows[start : start + page_size] if start < total else []
    return JsonResponse(
        agora_shapes.channel_list_answer(((row["call__channel_name"], row["users"]) for row in page), total)
    )


@sandbox_endpoint
@channel_api
def channel_users(
    request: HttpRequest, upstream: Upstream, appid: str, channel_name: str, hosts_only: str | None = None
) -> JsonResponse:
    project = project_for(upstream, appid)
    by_role: dict[int, list[int]] = {ncs.HOST: [], ncs.AUDIENCE: [], ncs.COMMUNICATION: []}
    for uid, role in (
        online(project).filter(call__channel_name=channel_name).order_by("joined_at", "uid").values_list("uid", "role")
    ):
        by_role[role].append(uid)
    only_hosts = hosts_only is not None or "hosts_only" in request.GET
    answer = agora_shapes.channel_users_answer(
        by_role[ncs.HOST], by_role[ncs.AUDIENCE], by_role[ncs.COMMUNICATION], hosts_only=only_hosts
    )
    return JsonResponse(answer)


@sandbox_endpoint
@channel_api
def user_property(request: HttpRequest, upstream: Upstream, appid: str, uid: str, channel_name: str) -> JsonResponse:
    project = project_for(upstream, appid)
    number = agora_shapes.uid_of(uid)
    session = online(project).filter(call__channel_name=channel_name, uid=number).first()
    if session is None:
        return JsonResponse(agora_shapes.user_property_answer(number, None, None, None))
    role = live.AGORA_ROLE[session.role]
    return JsonResponse(agora_shapes.user_property_answer(number, session.joined_at, role, session.platform))


# Kicking rules (reference section 4.4) ------------------------------------------------------------------


def _body(request: HttpRequest) -> dict:
    if request.content_type != "application/json":
        raise QueryError("Content-Type must be application/json", 415)
    try:
        body = json.loads(request.body or b"null")
    except (UnicodeDecodeError, ValueError):
        raise QueryError("the body is not JSON") from None
    if not isinstance(body, dict):
        raise QueryError("the body must be a JSON object")
    return body


def _rule_id(body: dict) -> int:
    rule_id = body.get("id")
    if isinstance(rule_id, bool) or not isinstance(rule_id, int) or rule_id <= 0:
        raise QueryError("id must be the id of a rule")
    return rule_id


def _rule_in_force(project: Project, rule_id: int) -> SandboxRule:
    rule = SandboxRule.objects.filter(project=project, pk=rule_id, expires_at__gt=timezone.now()).first()
    if rule is None:
        raise QueryError("rule not found", 404)
    return rule


def _rule_answer(rule: SandboxRule) -> dict:
    return agora_shapes.rule_answer(
        rule.pk,
        rule.project.app_id,
        channel_name=rule.channel_name,
        uid=rule.uid,
        ip=rule.ip,
        privileges=rule.privileges,
        expires_at=rule.expires_at,
        created_at=rule.created_at,
        updated_at=rule.updated_at,
    )


def console_url(request: HttpRequest) -> str:
    """Where the console receives notifications: the sandbox is served by the console itself."""
    return settings.SITE_URL or f"{request.scheme}://{request.get_host()}"


@sandbox_endpoint(methods=RULE_METHODS)
@channel_api
def kicking_rules(request: HttpRequest, upstream: Upstream) -> JsonResponse:
    if request.method == "GET":
        project = project_for(upstream, request.GET.get("appid"))
        rules = SandboxRule.objects.filter(project=project, expires_at__gt=timezone.now()).select_related("project")
        return JsonResponse({"status": "success", "rules": [_rule_answer(rule) for rule in rules.order_by("pk")]})
    body = _body(request)
    if request.method == "POST":
        return _create_rule(request, upstream, body)
    project = project_for(upstream, body.get("appid"))
    rule = _rule_in_force(project, _rule_id(body))
    if request.method == "DELETE":
        rule.delete()
        return JsonResponse({"status": "success", "id": _rule_id(body)})
    if body.get("time") is None and body.get("time_in_seconds") is None:
        raise QueryError("time or time_in_seconds is required")
    now = timezone.now()
    rule.expires_at = now + timedelta(seconds=agora_shapes.duration_seconds(body))
    rule.updated_at = now
    rule.save(update_fields=["expires_at", "updated_at"])
    return JsonResponse({"status": "success", "result": {"id": rule.pk, "ts": agora_shapes.iso(rule.expires_at)}})


def _create_rule(request: HttpRequest, upstream: Upstream, body: dict) -> JsonResponse:
    asked = agora_shapes.rule_request(body)
    project = project_for(upstream, asked.app_id)
    now = timezone.now()
    network = Network(project)
    with transaction.atomic():
        rule = SandboxRule.objects.create(
            project=project,
            channel_name=asked.channel_name,
            uid=asked.uid,
            ip=asked.ip,
            privileges=list(asked.privileges),
            expires_at=now + timedelta(seconds=asked.seconds),
            created_at=now,
            updated_at=now,
        )
        rule_id = rule.pk
        network.kick(rule, now)
        if asked.seconds == 0:
            rule.delete()  # a one-shot kick: the users are out, nothing stays (the id is never given again)
        courier = Courier.for_project(project, console_url(request))
        notifications = list(network.notifications)
        transaction.on_commit(lambda: deliver_later(courier, notifications))
    return JsonResponse({"status": "success", "id": rule_id})


# Call analytics (reference section 3.2 to 3.4) ----------------------------------------------------------


def _window(request: HttpRequest, longest: timedelta) -> agora_shapes.TimeWindow:
    window = agora_shapes.time_window(request.GET)
    if window.start < timezone.now() - LOOKBACK:
        raise QueryError("query time range limit error", LIMIT)
    if window.end - window.start > longest:
        raise QueryError("query time length limit error", LIMIT)
    return window


def _during(window: agora_shapes.TimeWindow, started: str, ended: str) -> Q:
    """Rows whose span [started, ended or now] meets the window."""
    return Q(**{f"{started}__lt": window.end}) & (
        Q(**{f"{ended}__isnull": True}) | Q(**{f"{ended}__gte": window.start})
    )


def _rate(value: float) -> float:
    return round(value, 4)


def _call_row(call: SandboxCall, sessions: list[SandboxSession], clock: datetime) -> dict:
    presences = [presence_of(session, clock) for session in sessions]
    totals, _ = sandbox_quality.call_totals(presences)
    return {
        "call_id": call.call_id,
        "cname": call.channel_name,
        "created_ts": seconds(call.started_at),
        "destroyed_ts": seconds(call.ended_at) if call.ended_at else 0,
        "finished": call.ended_at is not None,
        "call_pcu": sandbox_quality.peak_users(presences),
        "call_acu": len({session.uid for session in sessions}),
        "call_audio_freeze_rate": _rate(totals.audio_rate),
        "call_video_freeze_rate": _rate(totals.video_rate),
    }


@sandbox_endpoint
@analytics_api
def call_lists(request: HttpRequest, upstream: Upstream) -> JsonResponse:
    project = project_for(upstream, request.GET.get("appid"))
    window = _window(request, LONGEST_SEARCH)
    page_no, page_size = agora_shapes.page(request.GET, agora_shapes.ANALYTICS_PAGE_SIZE, first=1)
    calls = SandboxCall.objects.filter(_during(window, "started_at", "ended_at"), project=project)
    if request.GET.get("cname"):
        calls = calls.filter(channel_name=request.GET["cname"])
    total = calls.count()
    page = list(calls.order_by("-started_at", "-pk")[(page_no - 1) * page_size : page_no * page_size])
    by_call: dict[int, list[SandboxSession]] = {call.pk: [] for call in page}
    for session in SandboxSession.objects.filter(call__in=page).order_by("joined_at", "pk"):
        by_call[session.call_id].append(session)
    clock = timezone.now()
    rows = [_call_row(call, by_call[call.pk], clock) for call in page]
    return JsonResponse(agora_shapes.call_list_answer(rows, total=total, page_no=page_no, page_size=page_size))


def _call(request: HttpRequest, project: Project) -> SandboxCall | None:
    call_id = request.GET.get("call_id") or ""
    if not call_id:
        raise QueryError("call_id is required")
    return SandboxCall.objects.filter(project=project, call_id=call_id).first()


def _flag(request: HttpRequest, name: str, default: bool) -> bool:
    value = request.GET.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise QueryError(f"{name} must be true or false")


def _session_row(session: SandboxSession, call: SandboxCall, presence, totals) -> dict:
    return {
        "sid": session.sid,
        "cname": call.channel_name,
        "uid": session.uid,
        "account": session.account,
        "network": session.network,
        "platform": PLATFORM_NAMES.get(session.platform, "Other"),
        "speaker": bool(presence.publishing),
        "roles": roles_of(session),
        "sdk_version": session.sdk_version,
        "device_type": session.device_type,
        "region": session.region,
        "join_ts": seconds(session.joined_at),
        "leave_ts": seconds(session.left_at) if session.left_at else 0,
        "finished": session.left_at is not None,
        "user_audio_freeze_rate": _rate(totals.audio_rate),
        "user_video_freeze_rate": _rate(totals.video_rate),
    }


@sandbox_endpoint
@analytics_api
def call_sessions(request: HttpRequest, upstream: Upstream) -> JsonResponse:
    project = project_for(upstream, request.GET.get("appid"))
    call = _call(request, project)
    window = _window(request, LONGEST_DETAILS)
    page_no, page_size = agora_shapes.page(request.GET, agora_shapes.ANALYTICS_PAGE_SIZE, first=1)
    uids = [
        agora_shapes.uid_of(uid) for uid in agora_shapes.id_list(request.GET, "uids", agora_shapes.MAX_SESSION_UIDS)
    ]
    exclude_servers = _flag(request, "exclude_server_user", True)
    if call is None:
        return JsonResponse(agora_shapes.sessions_answer([], total=0, page_no=page_no, page_size=page_size))
    everyone = list(call.sessions.order_by("joined_at", "pk"))
    asked = call.sessions.filter(_during(window, "joined_at", "left_at"))
    if uids:
        asked = asked.filter(uid__in=uids)
    if exclude_servers:
        asked = asked.exclude(platform=6)
    total = asked.count()
    page = list(asked.order_by("-joined_at", "-pk")[(page_no - 1) * page_size : page_no * page_size])
    clock = timezone.now()
    presences = {session.sid: presence_of(session, clock) for session in everyone}
    others = list(presences.values())
    rows = [
        _session_row(
            session, call, presences[session.sid], sandbox_quality.receiver_totals(presences[session.sid], others)
        )
        for session in page
    ]
    return JsonResponse(agora_shapes.sessions_answer(rows, total=total, page_no=page_no, page_size=page_size))


@sandbox_endpoint
@analytics_api
def call_metrics(request: HttpRequest, upstream: Upstream) -> JsonResponse:
    project = project_for(upstream, request.GET.get("appid"))
    call = _call(request, project)
    window = _window(request, LONGEST_DETAILS)
    sids = agora_shapes.id_list(request.GET, "sids", agora_shapes.MAX_METRIC_SIDS)
    if not sids:
        raise QueryError("sids is required")
    if call is None:
        return JsonResponse(agora_shapes.metrics_answer({}))
    clock = timezone.now()
    presences = {session.sid: presence_of(session, clock) for session in call.sessions.all()}
    others = list(presences.values())
    start, end = seconds(window.start), seconds(window.end)
    answer = {
        sid: sandbox_quality.series(presences[sid], others, start, end)
        for sid in dict.fromkeys(sids)
        if sid in presences
    }
    return JsonResponse(agora_shapes.metrics_answer(answer))
