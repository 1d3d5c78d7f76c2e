"""The token API, for production token servers, and the paths of Agora's community token service.

Every token issued here is audited (`token.issued`: caller, project, what the token is for, never the token):
an entry of its own for the first few per caller, project and minute, then counted and written as one entry
with the count (accounts.audit.record_token_issued), so a busy token server neither floods the log nor
escapes it.
"""

from django.conf import settings
from django.http import Http404
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import audit
from accounts.access import in_scope, module_permission
from console import metrics
from console.api import error
from projects import certificate_use
from projects.token_cache import token_facts

from .accesstoken2 import TokenError
from .services import KINDS, RTC_PRIVILEGE_EXPIRES, build_with_credentials

COMMUNITY_DEFAULT_EXPIRY = 3600  # what the community token service assumes without ?expiry=


def _issue(request, project_id: str, kind: str, params: dict):
    # The hot path of token servers: the project's facts come from the cache, not from three queries.
    facts = token_facts(project_id)
    if facts is None or not in_scope(request.membership, facts.organization_id, facts.pk):
        raise Http404("No such project.")
    if facts.refusal:
        return None, error(facts.refusal, 403)
    try:
        issued = build_with_credentials(
            facts.app_id, facts.primary_certificate, kind, params, max_expire=settings.TOKEN_API_MAX_EXPIRE
        )
    except TokenError as problem:
        return None, error(str(problem), 400)
    certificate_use.record(facts.pk, facts.primary_fingerprint, issued.expires_at)
    expires_at = issued.expires_at.isoformat()
    audit.record_token_issued(request, facts, project_id, kind=kind, expires_at=expires_at, **issued.subject)
    metrics.tokens_issued.labels(kind, "api").inc()
    return issued, None


class TokenView(APIView):
    permission_classes = [module_permission("tokens", "generate")]

    @extend_schema(
        summary="Issue a token",
        request=inline_serializer(
            "TokenRequest",
            {
                "type": serializers.ChoiceField(choices=list(KINDS)),
                "channel": serializers.CharField(required=False),
                "uid": serializers.IntegerField(required=False, min_value=0),
                "account": serializers.CharField(required=False),
                "role": serializers.ChoiceField(choices=["publisher", "subscriber"], required=False),
                "user_id": serializers.CharField(required=False),
                "expire": serializers.IntegerField(required=False, help_text="Seconds; default 86,400."),
                "privilege_expire": serializers.IntegerField(
                    required=False,
                    min_value=0,
                    help_text="Seconds the RTC privileges last; 0 (the default, as Agora's builders): no separate "
                    "limit, the token's expiry governs.",
                ),
                "rtm_user_id": serializers.CharField(required=False, help_text="rtc_rtm: default the account."),
                **{
                    name: serializers.IntegerField(
                        required=False, min_value=0, help_text="rtc_rtm: seconds; default privilege_expire."
                    )
                    for name in RTC_PRIVILEGE_EXPIRES
                },
                "rtm_expire": serializers.IntegerField(
                    required=False, min_value=0, help_text="rtc_rtm: seconds the RTM login lasts; default expire."
                ),
                "permissions": serializers.DictField(
                    required=False,
                    help_text='rtm2: resource type -> read/write -> names, e.g. {"message_channels": '
                    '{"read": ["lobby"]}}. Resource types: message_channels, stream_channels, group_channels, '
                    "server_groups, users.",
                ),
            },
        ),
        responses={
            200: inline_serializer(
                "TokenResponse",
                {
                    "token": serializers.CharField(),
                    "expires_at": serializers.DateTimeField(),
                },
            )
        },
        examples=[
            OpenApiExample(
                "RTC publisher",
                value={"type": "rtc", "channel": "demo", "uid": 42, "role": "publisher", "expire": 3600},
            ),
            OpenApiExample(
                "RTC + RTM, separate expiries",
                value={
                    "type": "rtc_rtm",
                    "channel": "demo",
                    "account": "alice",
                    "expire": 3600,
                    "join_expire": 3600,
                    "publish_audio_expire": 1800,
                    "rtm_expire": 600,
                },
            ),
            OpenApiExample(
                "RTM with permissions",
                value={
                    "type": "rtm2",
                    "user_id": "alice",
                    "permissions": {"message_channels": {"read": ["lobby"], "write": ["lobby"]}},
                    "expire": 3600,
                },
            ),
        ],
    )
    def post(self, request, project_id):
        issued, problem = _issue(request, project_id, str(request.data.get("type", "")), request.data)
        if problem:
            return problem
        return Response({"token": issued.token, "expires_at": issued.expires_at.isoformat()})


def _expiry(request) -> int | str:
    return request.query_params.get("expiry", COMMUNITY_DEFAULT_EXPIRY)


class CommunityRtcTokenView(APIView):
    """`GET .../rtc/<channel>/<role>/<uid|userAccount>/<id>/?expiry=N` -> {"rtcToken": ...}."""

    permission_classes = [module_permission("tokens", "generate")]

    @extend_schema(
        summary="RTC token (community token service path)",
        responses={200: inline_serializer("RtcToken", {"rtcToken": serializers.CharField()})},
    )
    def get(self, request, project_id, channel, role, id_type, user):
        if id_type not in ("uid", "userAccount"):
            return error('The token type must be "uid" or "userAccount".')
        # The community service gives the privileges the token's expiry (not Agora's default of 0).
        expiry = _expiry(request)
        params = {"channel": channel, "role": role, "expire": expiry, "privilege_expire": expiry}
        params["uid" if id_type == "uid" else "account"] = user
        issued, problem = _issue(request, project_id, "rtc", params)
        return problem or Response({"rtcToken": issued.token})


class CommunityRtmTokenView(APIView):
    """`GET .../rtm/<user id>/?expiry=N` -> {"rtmToken": ...}."""

    permission_classes = [module_permission("tokens", "generate")]

    @extend_schema(
        summary="RTM token (community token service path)",
        responses={200: inline_serializer("RtmToken", {"rtmToken": serializers.CharField()})},
    )
    def get(self, request, project_id, user_id):
        issued, problem = _issue(request, project_id, "rtm", {"user_id": user_id, "expire": _expiry(request)})
        return problem or Response({"rtmToken": issued.token})
