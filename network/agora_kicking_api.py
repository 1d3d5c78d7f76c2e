"""Agora's kicking rules at Agora's path, `POST|GET|PUT|DELETE /dev/v1/kicking-rule` (reference section 4.4), so
a customer's server code that kicks, bans and mutes through Agora works against the console unchanged.
Authentication, throttling, X-Request-ID / X-Resource-ID and errors ({"message": ...}) as projects/agora_api.py.
GET needs channels "view"; POST, PUT and DELETE need channels "manage". Every change goes through
network.kicking, the service the pages use: the console asks its upstream, keeps the rule, audits.

Decisions (where Agora's documentation leaves room):
- `appid` names one of the caller's active projects (organization and scope); any other App ID is 400
  {"message": "invalid appid"}, as the channel queries answer (network/agora_channel_api.py).
- Bodies are JSON objects (another Content-Type is 415). Unknown fields are 400, so that a misspelt
  `time_in_seconds` does not silently become Agora's 60-minute default.
- POST checks the body as Agora does (network.agora_shapes.rule_request): at least one of cname, uid, ip; uid not
  0; privileges among join_channel, publish_audio, publish_video; `time` clamped to 1..1440 minutes,
  `time_in_seconds` to 10..86430 and winning over `time`; neither is 60 minutes; 0 is a one-shot kick.
- The ids are the console's own rule ids (not its upstream's). A one-shot kick keeps no rule: its answer's id
  is 0, which names no rule.
- The same rule POSTed again within a few seconds answers the first one's id (a double submit makes one rule).
- GET lists the project's rules in force, the soonest to end first (expired rules are gone, as at Agora).
- PUT needs `time` or `time_in_seconds` (no default: a PUT without a duration is a mistake), counted from now;
  0 is refused (DELETE ends a rule). PUT and DELETE of an id that is not one of the project's rules: 404
  {"message": "rule not exist"}; of one that has expired: 400 saying so.
- When the upstream refuses, fails or cannot be reached: 400 saying so in the console's words (never what the
  upstream said), and nothing is kept.
"""

import re

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.response import Response

from accounts.access import module_permission, restrict
from console.api import ErrorSerializer, error, is_json
from console.parsers import JsonParser
from projects.agora_api import AgoraView
from projects.models import Project
from usage.agora_serializers import QueryError

from . import agora_shapes, kicking
from .models import KickingRule

TAG = "Agora-compatible: channels"
CHANNELS_VIEW = module_permission("channels", "view")
CHANNELS_MANAGE = module_permission("channels", "manage")
APP_ID = re.compile(r"[0-9a-fA-F]{32}")
MAX_ID = 2**63 - 1
NOT_FOUND = "rule not exist"
POST_FIELDS = {"appid", "cname", "uid", "ip", "time", "time_in_seconds", "privileges"}
PUT_FIELDS = {"appid", "id", "time", "time_in_seconds"}
DELETE_FIELDS = {"appid", "id"}

# The shapes, for the schema ----------------------------------------------------------------------------

_TIME = {
    "time": serializers.IntegerField(
        required=False, min_value=0, help_text="Minutes, clamped to 1..1440; 0 is a one-shot kick."
    ),
    "time_in_seconds": serializers.IntegerField(
        required=False, min_value=0, help_text="Seconds, clamped to 10..86430; wins over `time`."
    ),
}
CreateBody = inline_serializer(
    "AgoraKickingRuleCreate",
    {
        "appid": serializers.CharField(max_length=32, help_text="The project's App ID."),
        "cname": serializers.CharField(required=False, max_length=64, help_text="A channel name."),
        "uid": serializers.IntegerField(required=False, min_value=1, max_value=agora_shapes.MAX_UID),
        "ip": serializers.CharField(required=False, max_length=45, help_text="An IPv4 or IPv6 address."),
        **_TIME,
        "privileges": serializers.ListField(
            child=serializers.ChoiceField(choices=agora_shapes.PRIVILEGES), min_length=1, max_length=3
        ),
    },
)
RuleIdBody = {
    "appid": serializers.CharField(max_length=32, help_text="The project's App ID."),
    "id": serializers.IntegerField(min_value=1, help_text="The rule's id (as POST answered it)."),
}
UpdateBody = inline_serializer("AgoraKickingRuleUpdate", {**RuleIdBody, **_TIME})
DeleteBody = inline_serializer("AgoraKickingRuleDelete", RuleIdBody)
IdAnswer = inline_serializer(
    "AgoraKickingRuleId", {"status": serializers.CharField(), "id": serializers.IntegerField(min_value=0)}
)
RulesAnswer = inline_serializer(
    "AgoraKickingRules",
    {
        "status": serializers.CharField(),
        "rules": inline_serializer(
            "AgoraKickingRule",
            {
                "id": serializers.IntegerField(),
                "appid": serializers.CharField(),
                "uid": serializers.IntegerField(allow_null=True),
                "opid": serializers.IntegerField(),
                "cname": serializers.CharField(allow_null=True),
                "ip": serializers.CharField(allow_null=True),
                "ts": serializers.CharField(help_text="When the rule expires (UTC, ISO 8601)."),
                "privileges": serializers.ListField(child=serializers.CharField()),
                "createAt": serializers.CharField(),
                "updateAt": serializers.CharField(),
            },
            many=True,
        ),
    },
)
UpdateAnswer = inline_serializer(
    "AgoraKickingRuleUpdated",
    {
        "status": serializers.CharField(),
        "result": inline_serializer(
            "AgoraKickingRuleExpiry",
            {"id": serializers.IntegerField(), "ts": serializers.CharField(help_text="The new expiry (UTC).")},
        ),
    },
)
NOT_JSON = OpenApiResponse(ErrorSerializer, description='The body is not JSON ("Content-Type: application/json").')


def documented(summary: str, description: str, *, body=None, answer=IdAnswer, parameters=None):
    responses = {200: answer, **({415: NOT_JSON} if body is not None else {})}
    return extend_schema(
        tags=[TAG], summary=summary, description=description, request=body, parameters=parameters, responses=responses
    )


# The endpoint ------------------------------------------------------------------------------------------


class KickingRuleView(AgoraView):
    required = {"GET": CHANNELS_VIEW, "POST": CHANNELS_MANAGE, "PUT": CHANNELS_MANAGE, "DELETE": CHANNELS_MANAGE}
    parser_classes = [JsonParser]

    def handle_exception(self, exc):
        if isinstance(exc, QueryError):
            return error(exc.message, exc.status)
        return super().handle_exception(exc)

    def json_body(self, fields: set[str]) -> dict:
        """The JSON object of the body, with no field but `fields`."""
        if not is_json(self.request):
            raise exceptions.UnsupportedMediaType(
                self.request.content_type, detail='The body must be JSON ("Content-Type: application/json").'
            )
        data = self.request.data
        if not isinstance(data, dict):  # an empty body: nothing parsed
            data = {}
        unknown = sorted(set(data) - fields)
        if unknown:
            raise QueryError(f"Unknown field: {', '.join(unknown)}")
        return data

    def project_for(self, app_id: object) -> Project:
        """The caller's active project with App ID `app_id` (any case), or QueryError."""
        if app_id is None or app_id == "":
            raise QueryError("appid is required")
        if not isinstance(app_id, str) or not APP_ID.fullmatch(app_id):
            raise QueryError("invalid appid")
        projects = restrict(Project.objects.active().select_related("organization"), self.request.membership)
        project = projects.filter(app_id=app_id.lower()).first()
        if project is None:
            raise QueryError("invalid appid")
        return self.concerns(project)

    def rule_for(self, project: Project, rule_id: object) -> KickingRule:
        if rule_id is None:
            raise QueryError("id is required")
        if isinstance(rule_id, bool) or not isinstance(rule_id, int) or not 0 < rule_id <= MAX_ID:
            raise QueryError("id must be a rule's id, a whole number")
        rule = KickingRule.objects.select_related("project__organization").filter(project=project, pk=rule_id).first()
        if rule is None:
            raise QueryError(NOT_FOUND, 404)
        return rule

    @documented(
        "Kick, ban or mute (create a kicking rule)",
        "Whom `cname`, `uid` and `ip` name (at least one) may not join (`join_channel`: anyone in is put out) or "
        "publish (`publish_audio`, `publish_video`) until the rule expires. `time` (minutes, 1..1440) or "
        "`time_in_seconds` (10..86430, wins) are clamped; neither is 60 minutes; 0 is a one-shot kick (users may "
        "rejoin at once; no rule is kept and the answer's id is 0). The console asks its upstream, then keeps the "
        'rule and audits it. Needs channels "manage".',
        body=CreateBody,
    )
    def post(self, request):
        asked = agora_shapes.rule_request(self.json_body(POST_FIELDS))
        project = self.project_for(asked.app_id)
        rule = kicking.create_rule(
            request.membership,
            project,
            channel_name=asked.channel_name,
            uid=asked.uid,
            ip=asked.ip,
            privileges=asked.privileges,
            seconds=asked.seconds,
            request=request,
        )
        return Response({"status": "success", "id": rule.pk if rule is not None else 0})

    @documented(
        "Kicking rules in force",
        "The project's rules that have not expired, the soonest to end first; `ts` is when a rule expires. "
        'Needs channels "view".',
        answer=RulesAnswer,
        parameters=[OpenApiParameter("appid", str, required=True, description="The project's App ID.")],
    )
    def get(self, request):
        project = self.project_for(request.query_params.get("appid"))
        rules = [
            agora_shapes.rule_answer(
                rule.pk,
                project.app_id,
                channel_name=rule.channel_name,
                uid=rule.uid,
                ip=rule.ip,
                privileges=rule.privileges,
                expires_at=rule.expires_at,
                created_at=rule.created_at,
                updated_at=rule.updated_at,
            )
            for rule in kicking.rules_in_force(project)
        ]
        return Response({"status": "success", "rules": rules})

    @documented(
        "Change how long a rule lasts",
        "The rule lasts `time` minutes (1..1440) or `time_in_seconds` (10..86430, wins) from now, clamped; one of "
        "them is required and 0 is refused (DELETE ends a rule). An expired rule cannot be changed (400). Needs "
        'channels "manage".',
        body=UpdateBody,
        answer=UpdateAnswer,
    )
    def put(self, request):
        data = self.json_body(PUT_FIELDS)
        project = self.project_for(data.get("appid"))
        rule = self.rule_for(project, data.get("id"))
        if data.get("time") is None and data.get("time_in_seconds") is None:
            raise QueryError("time or time_in_seconds is required")
        seconds = agora_shapes.duration_seconds(data)
        if not seconds:
            raise QueryError("a rule lasts at least 10 seconds: to end it, DELETE it")
        rule = kicking.extend_rule(request.membership, rule, seconds=seconds, request=request)
        return Response({"status": "success", "result": {"id": rule.pk, "ts": agora_shapes.iso(rule.expires_at)}})

    @documented(
        "Remove a rule",
        'Ends the rule now: whom it named may join and publish again. Needs channels "manage".',
        body=DeleteBody,
    )
    def delete(self, request):
        data = self.json_body(DELETE_FIELDS)
        project = self.project_for(data.get("appid"))
        rule = self.rule_for(project, data.get("id"))
        rule_id = rule.pk
        kicking.remove_rule(request.membership, rule, request=request)
        return Response({"status": "success", "id": rule_id})
