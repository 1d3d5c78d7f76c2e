"""The native API of the call inspector, under /api/v1/projects/{project_id}/calls/: the search of the Calls
tab, one call with its sessions, and the metrics of chosen users. Channels "view"; a project of another
organization or outside the caller's scope is 404, as is a call of another project.

- GET calls/: the filters of the page (network.calls.parse_call_query): `range` (1h, 24h, 7d, 30d; default 24h)
  or `from`/`to` (ISO 8601, UTC unless an offset is given), `q` (exact channel name or call id), `status`
  (in_progress, ended), `min_minutes`, `max_minutes`, `min_users`, `min_audio_freeze`, `min_video_freeze`
  (percent). A value that cannot be read is 400 (the page leaves it out and says so). Newest first, cursor
  pages.
- GET calls/{id}/: `id` is Agora's call id, "console-<number>" or the console's number (`id` in the answers);
  the call with its sessions (at most MAX_SESSIONS, first joined first; `sessions_total` counts them all).
- GET calls/{id}/metrics/?uids=1001,1002: the series of those users (at most 20) within a window of the call
  (`from`/`to`; at most 3 hours; by default the whole call, or its last 3 hours), as the call page charts them.
"""

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.mixins import ListModelMixin
from rest_framework.response import Response

from accounts.access import get_for_member, module_permission
from console.api import ModelSerializer, Serializer, error
from console.pagination import ConsoleCursorPagination
from projects.models import Project

from . import agora_shapes, calls
from .models import Call, CallSession, MetricSeries

TAG = "Channels and calls"
MAX_SESSIONS = 2000


class CallSerializer(ModelSerializer):
    id = serializers.IntegerField(source="pk", read_only=True, help_text="The console's number for the call.")
    call_id = serializers.CharField(read_only=True, help_text="Agora's call id; empty until the analytics pull.")
    public_id = serializers.SerializerMethodField(help_text='Agora\'s call id, or "console-<id>" without one.')
    in_progress = serializers.SerializerMethodField()
    duration_seconds = serializers.SerializerMethodField(help_text="To the end, or to now while in progress.")
    audio_freezing = serializers.SerializerMethodField(help_text="Audio freeze rate above Agora's 3%.")
    video_freezing = serializers.SerializerMethodField(help_text="Video freeze rate above Agora's 5%.")

    class Meta:
        model = Call
        fields = [
            "id",
            "call_id",
            "public_id",
            "channel_name",
            "started_at",
            "ended_at",
            "in_progress",
            "duration_seconds",
            "peak_users",
            "accumulated_users",
            "audio_freeze_rate",
            "video_freeze_rate",
            "audio_freezing",
            "video_freezing",
            "details_pulled_at",
        ]
        read_only_fields = fields

    def get_public_id(self, call: Call) -> str:
        return calls.public_id(call)

    def get_in_progress(self, call: Call) -> bool:
        return call.ended_at is None

    def get_duration_seconds(self, call: Call) -> int:
        return int(calls.duration(call, self.context["now"]).total_seconds())

    def get_audio_freezing(self, call: Call) -> bool:
        return calls.bad_audio(call.audio_freeze_rate)

    def get_video_freezing(self, call: Call) -> bool:
        return calls.bad_video(call.video_freeze_rate)


class SessionSerializer(ModelSerializer):
    roles = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = CallSession
        fields = [
            "sid",
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
        read_only_fields = fields


class CallDetailSerializer(CallSerializer):
    sessions = serializers.SerializerMethodField()
    sessions_total = serializers.SerializerMethodField()

    class Meta(CallSerializer.Meta):
        fields = [*CallSerializer.Meta.fields, "sessions_total", "sessions"]
        read_only_fields = fields

    def get_sessions_total(self, call: Call) -> int:
        return self.context["sessions_total"]

    @extend_schema_field(SessionSerializer(many=True))
    def get_sessions(self, call: Call) -> list:
        return SessionSerializer(self.context["sessions"], many=True).data


class SeriesSerializer(Serializer):
    uid = serializers.IntegerField(read_only=True)
    sid = serializers.CharField(read_only=True)
    mid = serializers.IntegerField(read_only=True, help_text="Agora's metric id.")
    metric = serializers.CharField(
        read_only=True, help_text="Its name (empty for a metric the console does not chart)."
    )
    unit = serializers.CharField(read_only=True)
    side = serializers.CharField(
        read_only=True, help_text="sender: the user's own upstream; receiver: about one remote user."
    )
    peer_uid = serializers.IntegerField(
        read_only=True, help_text="0: the user's own metric; otherwise the remote user's UID."
    )
    bad_above = serializers.FloatField(
        read_only=True, allow_null=True, help_text="Agora's threshold: a point above it is bad."
    )
    points = serializers.ListField(
        read_only=True,
        child=serializers.ListField(child=serializers.FloatField()),
        help_text="[[unix seconds, value], ...]",
    )


class MetricsAnswerSerializer(Serializer):
    call = serializers.CharField(read_only=True, help_text="The call's public id.")
    start = serializers.DateTimeField(read_only=True)
    end = serializers.DateTimeField(read_only=True)
    series = SeriesSerializer(read_only=True, many=True)


SEARCH_PARAMETERS = [
    OpenApiParameter("range", str, enum=list(calls.PRESETS), description="A range ending now (default 24h)."),
    OpenApiParameter("from", str, description="Start, ISO 8601 (UTC unless an offset is given); instead of range."),
    OpenApiParameter("to", str, description="End, ISO 8601; now by default."),
    OpenApiParameter("q", str, description="An exact channel name or call id."),
    OpenApiParameter("status", str, enum=list(calls.STATUSES)),
    OpenApiParameter("min_minutes", int, description="Calls at least this long."),
    OpenApiParameter("max_minutes", int, description="Calls at most this long."),
    OpenApiParameter("min_users", int, description="Calls with at least this many users (ACU)."),
    OpenApiParameter("min_audio_freeze", float, description="Audio freeze rate at least this percent."),
    OpenApiParameter("min_video_freeze", float, description="Video freeze rate at least this percent."),
]
CALL = OpenApiParameter(
    "id", str, location=OpenApiParameter.PATH, description='Agora\'s call id, "console-<number>" or the number.'
)


class CallApiView(GenericAPIView):
    permission_classes = [module_permission("channels", "view")]
    queryset = Call.objects.none()  # the model, for the schema
    filter_backends = []

    def project(self, project_id: str) -> Project:
        return get_for_member(self.request.membership, Project.objects.all(), project_id=project_id)

    def call(self, project_id: str, key: str) -> Call:
        project = self.project(project_id)
        self.request._request.resource_id = project.project_id
        return calls.find_call(Call.objects.filter(project=project), key)


class CallListView(ListModelMixin, CallApiView):
    serializer_class = CallSerializer
    pagination_class = ConsoleCursorPagination
    ordering = ("-started_at", "-pk")

    @extend_schema(
        tags=[TAG], summary="Search a project's calls", parameters=SEARCH_PARAMETERS, operation_id="api_calls"
    )
    def get(self, request, project_id):
        project = self.project(project_id)
        now = timezone.now()
        query, problems = calls.parse_call_query(request.query_params, now)
        if problems:
            return error(problems[0])
        page = self.paginate_queryset(calls.search(project, query, now))
        data = CallSerializer(page, many=True, context={"now": now}).data
        return self.get_paginated_response(data)


class CallDetailView(CallApiView):
    serializer_class = CallDetailSerializer
    pagination_class = None

    @extend_schema(tags=[TAG], summary="A call with its users' sessions", parameters=[CALL], operation_id="api_call")
    def get(self, request, project_id, id):  # noqa: A002 (the path's name)
        call = self.call(project_id, id)
        sessions = CallSession.objects.filter(call=call).order_by("joined_at", "pk")
        context = {
            "now": timezone.now(),
            "sessions": list(sessions[:MAX_SESSIONS]),
            "sessions_total": sessions.count(),
        }
        return Response(CallDetailSerializer(call, context=context).data)


class CallMetricsView(CallApiView):
    serializer_class = MetricsAnswerSerializer
    pagination_class = None

    @extend_schema(
        tags=[TAG],
        summary="Metrics of chosen users in a call",
        parameters=[
            CALL,
            OpenApiParameter("uids", str, required=True, description="Comma-separated UIDs of the call, at most 20."),
            OpenApiParameter("from", str, description="Start of the window (ISO 8601) within the call."),
            OpenApiParameter("to", str, description="End of the window; at most 3 hours after from."),
        ],
    )
    def get(self, request, project_id, id):  # noqa: A002 (the path's name)
        call = self.call(project_id, id)
        raw = agora_shapes.id_list(request.query_params, "uids", calls.MAX_CHOSEN)  # more: 400
        if not raw:
            return error("uids is required: the UIDs of the users whose metrics to read")
        uids = []
        for item in raw:
            if not (item.isascii() and item.isdigit() and len(item) <= 10):
                return error(f"uids must be whole numbers; {item[:20]!r} is not")
            uids.append(int(item))
        now = timezone.now()
        window, problems = calls.chart_window(call, request.query_params, now)
        if problems:
            return error(problems[0])
        rows = (
            MetricSeries.objects.filter(session__call=call, session__uid__in=uids)
            .order_by("session__joined_at", "session_id", "mid", "peer_uid")
            .values_list("session__uid", "session__sid", "mid", "peer_uid", "points")
        )
        series = []
        for uid, sid, mid, peer, points in rows:
            metric = agora_shapes.METRICS.get(mid)
            series.append(
                {
                    "uid": uid,
                    "sid": sid,
                    "mid": mid,
                    "metric": metric.label if metric else "",
                    "unit": metric.unit if metric else "",
                    "side": metric.side if metric else ("sender" if peer == 0 else "receiver"),
                    "peer_uid": peer,
                    "bad_above": metric.bad_above if metric else None,
                    "points": [[moment, value] for moment, value in calls.points_in(points, window)],
                }
            )
        answer = {"call": calls.public_id(call), "start": window.start, "end": window.end, "series": series}
        return Response(answer)  # as MetricsAnswerSerializer describes it; times in points stay whole numbers
