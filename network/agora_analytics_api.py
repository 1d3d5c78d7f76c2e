"""Agora Analytics' call inspector API (reference sections 3.2 to 3.4) at Agora's paths under /beta/, answered
from what the console stores (calls from webhooks and the analytics pull, their sessions and metric series),
so that a customer's server code written for https://api.agora.io works against the console unchanged.
Authentication (HTTP Basic with an API credential, or a session), throttling, X-Request-ID / X-Resource-ID
and errors as projects/agora_api.py; channels "view" is needed.

- `appid` names one of the caller's active projects (organization and scope); any other is 400
  {"message": "invalid appid"}, as for /dev/v1/channel.
- start_ts and end_ts (Unix seconds, UTC) are required, start before end; page_no counts from 1, page_size is 1
  to 100 (default 20); `uids` lists at most 10 UIDs, `sids` at most 20 session ids. Anything else is 400 with
  Agora's kind of message (agora_shapes). The console keeps every call it stores, so none of Agora's plan
  limits on the window or its age apply (they bound Agora's own storage, not the question).
- /call/lists: the calls that started in [start_ts, end_ts), newest first; `cname` narrows to one channel.
- Calls known from webhooks only (no analytics pull yet, e.g. in progress) have no Agora call id: they are
  listed with the console's own id, "console-<number>", stable for the call's life here and accepted by
  /call/sessions and /call/metrics (which answer no sessions for them until the pull brings them). Once the
  pull matches the call, Agora's id replaces it. Numbers not known yet (PCU, ACU, freeze rates) are 0, and
  `destroyed_ts` is 0 while the call is in progress.
- /call/sessions: the sessions of the call that overlap the window, newest join first; `exclude_server_user`
  (default true; false, 0 or no to include them) leaves out Linux users (recorders and other servers).
- /call/metrics: every stored series of the sessions named by `sids` (all the call's sessions, up to 20,
  when absent), points within the window. Unknown sids are left out.
- A call_id the project does not have is 400 {"message": "invalid call_id"}.
"""

from django.db.models import Q
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.access import module_permission, restrict
from console.api import Serializer, error
from console.text import has_control_characters
from projects.agora_api import AgoraView
from projects.models import Project
from usage.agora_serializers import QueryError

from . import agora_shapes, calls, ncs
from .models import Call, CallSession, MetricSeries

TAG = "Agora-compatible: call analytics"
CHANNELS_VIEW = module_permission("channels", "view")
TRUE_WORDS = {"", "true", "1", "yes"}
FALSE_WORDS = {"false", "0", "no"}


def _parameters(*extra: OpenApiParameter) -> list[OpenApiParameter]:
    return [
        OpenApiParameter("appid", str, required=True, description="The project's App ID."),
        OpenApiParameter("start_ts", int, required=True, description="Start of the window, Unix seconds (UTC)."),
        OpenApiParameter("end_ts", int, required=True, description="End of the window, Unix seconds; after start_ts."),
        *extra,
    ]


PAGE = [
    OpenApiParameter("page_no", int, description="From 1 (the default)."),
    OpenApiParameter("page_size", int, description="1 to 100; 20 by default."),
]
CALL_ID = OpenApiParameter(
    "call_id", str, required=True, description="Agora's call id, or the console's own (\"console-<number>\")."
)


# The answers, for the schema (the shapes are built by agora_shapes) ---------------------------------------


class CallEntrySerializer(Serializer):
    call_id = serializers.CharField(read_only=True)
    cname = serializers.CharField(read_only=True)
    created_ts = serializers.IntegerField(read_only=True)
    destroyed_ts = serializers.IntegerField(read_only=True, help_text="0 while the call is in progress.")
    finished = serializers.BooleanField(read_only=True)
    call_pcu = serializers.IntegerField(read_only=True)
    call_acu = serializers.IntegerField(read_only=True)
    call_audio_freeze_rate = serializers.FloatField(read_only=True, help_text="A fraction: 0.03 is 3%.")
    call_video_freeze_rate = serializers.FloatField(read_only=True)


class PagedSerializer(Serializer):
    code = serializers.IntegerField(read_only=True)
    message = serializers.CharField(read_only=True, allow_blank=True)
    total_size = serializers.IntegerField(read_only=True)
    page_no = serializers.IntegerField(read_only=True)
    page_size = serializers.IntegerField(read_only=True)
    has_more = serializers.BooleanField(read_only=True)


class CallListsSerializer(PagedSerializer):
    call_lists = CallEntrySerializer(read_only=True, many=True)


class SessionEntrySerializer(Serializer):
    sid = serializers.CharField(read_only=True)
    cname = serializers.CharField(read_only=True)
    uid = serializers.IntegerField(read_only=True)
    account = serializers.CharField(read_only=True, allow_blank=True)
    network = serializers.CharField(read_only=True, allow_blank=True)
    platform = serializers.CharField(read_only=True, allow_blank=True)
    speaker = serializers.BooleanField(read_only=True)
    roles = serializers.ListField(read_only=True, child=serializers.CharField())
    sdk_version = serializers.CharField(read_only=True, allow_blank=True)
    device_type = serializers.CharField(read_only=True, allow_blank=True)
    join_ts = serializers.IntegerField(read_only=True)
    leave_ts = serializers.IntegerField(read_only=True, help_text="0 while the user is in the call.")
    finished = serializers.BooleanField(read_only=True)
    user_audio_freeze_rate = serializers.FloatField(read_only=True)
    user_video_freeze_rate = serializers.FloatField(read_only=True)


class SessionsSerializer(PagedSerializer):
    call_info = SessionEntrySerializer(read_only=True, many=True)


class MetricDataSerializer(Serializer):
    mid = serializers.IntegerField(read_only=True)
    peer_uid = serializers.IntegerField(
        read_only=True, help_text="0: the session's own metric; otherwise the remote user's UID."
    )
    kvs = serializers.ListField(
        read_only=True,
        child=serializers.ListField(child=serializers.FloatField()),
        help_text="[[unix seconds, value], ...]",
    )


class SessionMetricsSerializer(Serializer):
    sid = serializers.CharField(read_only=True)
    data = MetricDataSerializer(read_only=True, many=True)


class MetricsSerializer(Serializer):
    code = serializers.IntegerField(read_only=True)
    message = serializers.CharField(read_only=True, allow_blank=True)
    metrics = SessionMetricsSerializer(read_only=True, many=True)


# The views --------------------------------------------------------------------------------------------


class AnalyticsView(AgoraView):
    required = {"GET": CHANNELS_VIEW}

    def handle_exception(self, exc):
        if isinstance(exc, QueryError):
            return error(exc.message, exc.status)
        return super().handle_exception(exc)

    def project_by_app_id(self, app_id: object) -> Project:
        text = str(app_id or "").strip().lower()
        if not text:
            raise QueryError("appid is required")
        if not _printable(text, 64):  # nothing to look up (PostgreSQL refuses NUL in text)
            raise QueryError("invalid appid")
        project = restrict(Project.objects.active(), self.request.membership).filter(app_id=text).first()
        if project is None:
            raise QueryError("invalid appid")
        return self.concerns(project)

    def call(self, project: Project) -> Call:
        key = str(self.request.query_params.get("call_id") or "").strip()
        if not key:
            raise QueryError("call_id is required")
        try:
            return calls.find_call(Call.objects.filter(project=project), key)
        except Http404:
            raise QueryError("invalid call_id") from None


def _printable(text: str, most_bytes: int) -> bool:
    return not has_control_characters(text) and len(text.encode()) <= most_bytes


def _rate(value: float | None) -> float:
    return round(value, 6) if value is not None else 0


class CallListsView(AnalyticsView):
    @extend_schema(
        tags=[TAG],
        summary="Search calls",
        parameters=_parameters(OpenApiParameter("cname", str, description="Only the calls of this channel."), *PAGE),
        description="The project's calls that started in the window, newest first, with their peak (PCU) and "
        "accumulated (ACU) users and freeze rates.",
        responses={200: CallListsSerializer},
    )
    def get(self, request):
        params = request.query_params
        project = self.project_by_app_id(params.get("appid"))
        window = agora_shapes.time_window(params)
        page_no, page_size = agora_shapes.page(params, agora_shapes.ANALYTICS_PAGE_SIZE, first=1)
        found = Call.objects.filter(project=project, started_at__gte=window.start, started_at__lt=window.end)
        cname = str(params.get("cname") or "")
        if cname and not _printable(cname, ncs.MAX_CHANNEL_NAME):
            raise QueryError(f"cname must be a channel name of at most {ncs.MAX_CHANNEL_NAME} bytes")
        if cname:
            found = found.filter(channel_name=cname)
        total = found.count()
        offset = (page_no - 1) * page_size
        rows = found.order_by("-started_at", "-pk")[offset : offset + page_size] if offset < total else []
        entries = [
            {
                "call_id": calls.public_id(call),
                "cname": call.channel_name,
                "created_ts": agora_shapes.seconds(call.started_at),
                "destroyed_ts": agora_shapes.seconds(call.ended_at),
                "finished": call.ended_at is not None,
                "call_pcu": call.peak_users or 0,
                "call_acu": call.accumulated_users or 0,
                "call_audio_freeze_rate": _rate(call.audio_freeze_rate),
                "call_video_freeze_rate": _rate(call.video_freeze_rate),
            }
            for call in rows
        ]
        return Response(agora_shapes.call_list_answer(entries, total=total, page_no=page_no, page_size=page_size))


class CallSessionsView(AnalyticsView):
    @extend_schema(
        tags=[TAG],
        summary="Users in a call",
        parameters=_parameters(
            CALL_ID,
            OpenApiParameter("uids", str, description="Comma-separated UIDs, at most 10."),
            OpenApiParameter("exclude_server_user", str, description="true (default): leave out Linux users."),
            *PAGE,
        ),
        description="The call's sessions that overlap the window, newest join first: a UID that rejoined has several.",
        responses={200: SessionsSerializer},
    )
    def get(self, request):
        params = request.query_params
        project = self.project_by_app_id(params.get("appid"))
        window = agora_shapes.time_window(params)
        page_no, page_size = agora_shapes.page(params, agora_shapes.ANALYTICS_PAGE_SIZE, first=1)
        uids = [
            agora_shapes.uid_of(item) for item in agora_shapes.id_list(params, "uids", agora_shapes.MAX_SESSION_UIDS)
        ]
        exclude = str(params.get("exclude_server_user", "true")).strip().lower()
        if exclude not in TRUE_WORDS | FALSE_WORDS:
            raise QueryError("exclude_server_user must be true or false")
        call = self.call(project)
        found = CallSession.objects.filter(call=call, joined_at__lt=window.end).filter(
            Q(left_at__isnull=True) | Q(left_at__gte=window.start)
        )
        if uids:
            found = found.filter(uid__in=uids)
        if exclude in TRUE_WORDS:
            found = found.exclude(platform__iexact="linux")
        total = found.count()
        offset = (page_no - 1) * page_size
        rows = found.order_by("-joined_at", "-pk")[offset : offset + page_size] if offset < total else []
        entries = [_session_entry(call, session) for session in rows]
        return Response(agora_shapes.sessions_answer(entries, total=total, page_no=page_no, page_size=page_size))


def _session_entry(call: Call, session: CallSession) -> dict:
    return {
        "sid": session.sid,
        "cname": call.channel_name,
        "uid": session.uid,
        "account": session.account,
        "network": session.network,
        "platform": session.platform,
        "speaker": session.speaker,
        "roles": [role for role in (session.roles or []) if isinstance(role, str)],
        "sdk_version": session.sdk_version,
        "device_type": session.device_type,
        "join_ts": agora_shapes.seconds(session.joined_at),
        "leave_ts": agora_shapes.seconds(session.left_at),
        "finished": session.finished,
        "user_audio_freeze_rate": _rate(session.audio_freeze_rate),
        "user_video_freeze_rate": _rate(session.video_freeze_rate),
    }


class CallMetricsView(AnalyticsView):
    @extend_schema(
        tags=[TAG],
        summary="Metrics of sessions in a call",
        parameters=_parameters(
            CALL_ID,
            OpenApiParameter(
                "sids",
                str,
                description="Comma-separated session ids, at most 20; all the call's (up to 20) when absent.",
            ),
        ),
        description="Each session's metric series (`mid`; `peer_uid` 0 for its own, else the remote user it is "
        "about), the points within the window as [unix seconds, value].",
        responses={200: MetricsSerializer},
    )
    def get(self, request):
        params = request.query_params
        project = self.project_by_app_id(params.get("appid"))
        window = agora_shapes.time_window(params)
        sids = agora_shapes.id_list(params, "sids", agora_shapes.MAX_METRIC_SIDS)
        if not all(_printable(sid, 64) for sid in sids):
            raise QueryError("sids must list session ids of at most 64 characters")
        call = self.call(project)
        sessions = CallSession.objects.filter(call=call)
        if sids:
            sessions = sessions.filter(sid__in=sids)
        ordered = list(sessions.order_by("joined_at", "pk").values_list("pk", "sid")[: agora_shapes.MAX_METRIC_SIDS])
        if sids:
            rank = {sid: index for index, sid in enumerate(sids)}
            ordered.sort(key=lambda item: rank.get(item[1], len(rank)))
        chart_window = calls.Window(window.start, window.end, False)
        series: dict[str, list[tuple[int, int, list]]] = {sid: [] for _, sid in ordered}
        sid_of = dict(ordered)
        rows = MetricSeries.objects.filter(session_id__in=sid_of).order_by("session_id", "mid", "peer_uid")
        for session_id, mid, peer, points in rows.values_list("session_id", "mid", "peer_uid", "points"):
            kept = [[moment, value] for moment, value in calls.points_in(points, chart_window)]
            series[sid_of[session_id]].append((mid, peer, kept))
        return Response(agora_shapes.metrics_answer(series))
