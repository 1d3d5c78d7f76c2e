"""The native API for a project's kicking rules, under /api/v1/projects/{project_id}/kicking-rules/.

Reading needs channels "view", changing channels "manage"; a project of another organization or outside the
caller's scope is 404, as is a rule of another project. Every change goes through network.kicking, the service
of the pages and of Agora's /dev/v1/kicking-rule: the console asks its upstream, keeps the rule, audits.

- GET lists the rules in force (not expired), the soonest to end first; GET .../{rule_id}/ reads one, expired
  or not (`in_force` says which).
- POST creates a rule: `privileges`, at least one of `channel_name`, `uid`, `ip`, and `seconds` (default 3600),
  clamped to 10..86430 as Agora clamps `time_in_seconds`. `seconds` 0 is a one-shot kick: the upstream puts
  out whom the rule names at once and they may rejoin; no rule is kept, and the answer is 200
  {"one_shot": true} instead of 201 with the rule.
- PATCH {"seconds": N} makes a rule last N seconds from now (clamped likewise; 0 is refused: DELETE it).
- DELETE ends a rule now (204).
- A refusal (an expired rule, bad input, the upstream refused or could not be reached) is 400 with a message.
"""

from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.response import Response

from accounts.access import get_for_member, restrict
from console.api import ModelSerializer, ModulePermissionMixin, Serializer
from projects.models import Project

from . import agora_shapes, kicking, ncs
from .models import KickingRule

TAG = "Channels and calls"
MAX_ID = 2**63 - 1


class StrictIntegerField(serializers.IntegerField):
    """A JSON number that is a whole number: "42", 42.5 and true are refused, never converted."""

    def to_internal_value(self, data):
        if type(data) is not int:  # type(), not isinstance: true is not 1
            self.fail("invalid")
        return super().to_internal_value(data)


class KickingRuleSerializer(ModelSerializer):
    in_force = serializers.SerializerMethodField()
    who = serializers.CharField(read_only=True, help_text='Whom the rule is about: "UID 1001 in room-42".')
    what = serializers.CharField(read_only=True, help_text='What it forbids: "may not join".')

    class Meta:
        model = KickingRule
        fields = [
            "id",
            "channel_name",
            "uid",
            "ip",
            "privileges",
            "who",
            "what",
            "expires_at",
            "in_force",
            "upstream_id",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_in_force(self, rule: KickingRule) -> bool:
        return rule.expires_at > self.context["now"]


class RuleCreateSerializer(Serializer):
    channel_name = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=ncs.MAX_CHANNEL_NAME,
        trim_whitespace=False,
        help_text="The channel (at most 64 bytes); empty: every channel.",
    )
    uid = StrictIntegerField(
        required=False, allow_null=True, min_value=1, max_value=agora_shapes.MAX_UID, help_text="A UID (not 0)."
    )
    ip = serializers.CharField(required=False, allow_blank=True, max_length=45, help_text="An IPv4 or IPv6 address.")
    privileges = serializers.ListField(
        child=serializers.ChoiceField(choices=agora_shapes.PRIVILEGES),
        min_length=1,
        max_length=len(agora_shapes.PRIVILEGES),
        help_text="join_channel: may not join (anyone in is put out); publish_audio, publish_video: muted.",
    )
    seconds = StrictIntegerField(
        required=False,
        default=agora_shapes.DEFAULT_SECONDS,
        min_value=0,
        help_text="How long, clamped to 10..86430; 0 is a one-shot kick (no rule is kept).",
    )


class RuleExtendSerializer(Serializer):
    seconds = StrictIntegerField(min_value=1, help_text="How long from now, clamped to 10..86430.")


OneShot = inline_serializer("OneShotKick", {"one_shot": serializers.BooleanField()})


@extend_schema(tags=[TAG])
class KickingRuleViewSet(ModulePermissionMixin, viewsets.GenericViewSet):
    """A project's kicking rules: channels "view" to read, "manage" to change."""

    module = "channels"
    action_levels = dict.fromkeys(("create", "partial_update", "destroy"), "manage")
    queryset = KickingRule.objects.none()  # the model, for the schema
    serializer_class = KickingRuleSerializer
    pagination_class = None  # the rules in force of one project: a few

    def project(self) -> Project:
        queryset = Project.objects.select_related("organization")
        return get_for_member(self.membership, queryset, project_id=self.kwargs["project_id"])

    def rule(self) -> KickingRule:
        project = self.project()
        if self.kwargs["rule_id"] > MAX_ID:  # no such row, and more than the database's integers hold
            raise Http404("No such kicking rule.")
        rules = KickingRule.objects.select_related("project__organization").filter(project=project)
        rule = restrict(rules, self.membership).filter(pk=self.kwargs["rule_id"]).first()
        if rule is None:
            raise Http404("No such kicking rule.")
        return rule

    def answer(self, rule: KickingRule, code: int = status.HTTP_200_OK) -> Response:
        return Response(KickingRuleSerializer(rule, context={"now": timezone.now()}).data, status=code)

    @extend_schema(summary="List a project's kicking rules in force", responses={200: KickingRuleSerializer(many=True)})
    def list(self, request, project_id):
        rules = kicking.rules_in_force(self.project())
        return Response(KickingRuleSerializer(rules, many=True, context={"now": timezone.now()}).data)

    @extend_schema(summary="Get a kicking rule")
    def retrieve(self, request, project_id, rule_id):
        return self.answer(self.rule())

    @extend_schema(
        summary="Kick, ban or mute (create a kicking rule)",
        request=RuleCreateSerializer,
        responses={201: KickingRuleSerializer, 200: OneShot},
    )
    def create(self, request, project_id):
        project = self.project()
        data = _valid(RuleCreateSerializer, request)
        rule = kicking.create_rule(
            self.membership,
            project,
            channel_name=data.get("channel_name", ""),
            uid=data.get("uid"),
            ip=data.get("ip", ""),
            privileges=data["privileges"],
            seconds=data["seconds"],
            request=request,
        )
        if rule is None:
            return Response({"one_shot": True})
        return self.answer(rule, status.HTTP_201_CREATED)

    @extend_schema(summary="Make a kicking rule last longer or shorter, from now", request=RuleExtendSerializer)
    def partial_update(self, request, project_id, rule_id):
        rule = self.rule()
        seconds = _valid(RuleExtendSerializer, request)["seconds"]
        return self.answer(kicking.extend_rule(self.membership, rule, seconds=seconds, request=request))

    @extend_schema(summary="Remove a kicking rule", request=None, responses={204: None})
    def destroy(self, request, project_id, rule_id):
        kicking.remove_rule(self.membership, self.rule(), request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
