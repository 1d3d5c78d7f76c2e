"""The native API for who is online in a project's channels, under /api/v1/projects/{project_id}/channels/:
the same state and order as the live channels page (network.live). Channels "view" is needed; a project of
another organization or outside the caller's scope is 404.

- GET .../channels/?page=1&page_size=100 (page_size 1 to 500): the channels with someone online, busiest
  first, with their counts, and `total`. Offset pages: a channel may move between pages while users come and go.
- GET .../channels/{channel_name}/: its users online now, those who publish first, then by join time; a
  channel nobody is in answers an empty list, as Agora's API answers `channel_exist: false`.
"""

from django.core.paginator import EmptyPage, Paginator
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.response import Response

from accounts.access import get_for_member
from console.api import ModulePermissionMixin, Serializer
from projects.models import Project

from . import agora_shapes, live
from .models import ChannelUser

TAG = "Channels and calls"
PAGE_SIZE = (1, 500, 100)


class ChannelSerializer(Serializer):
    channel_name = serializers.CharField()
    users = serializers.IntegerField()
    hosts = serializers.IntegerField(help_text="Hosts and communication users: those who may publish.")
    audience = serializers.IntegerField()
    online_since = serializers.DateTimeField(
        source="since", allow_null=True, help_text="The earliest join of those online (null when not known)."
    )


class ChannelUserSerializer(serializers.ModelSerializer):
    role = serializers.CharField(source="get_role_display")
    platform = serializers.CharField(source="platform_label")

    class Meta:
        model = ChannelUser
        fields = ["uid", "role", "platform", "joined_at"]
        extra_kwargs = {"joined_at": {"allow_null": True}}


ChannelPage = inline_serializer(
    "OnlineChannels",
    {"total": serializers.IntegerField(), "page": serializers.IntegerField(), "channels": ChannelSerializer(many=True)},
)
ChannelUsers = inline_serializer(
    "ChannelUsers", {"channel_name": serializers.CharField(), "users": ChannelUserSerializer(many=True)}
)


@extend_schema(tags=[TAG])
class ChannelViewSet(ModulePermissionMixin, viewsets.GenericViewSet):
    """Who is online in a project's channels: channels "view"."""

    module = "channels"
    queryset = ChannelUser.objects.none()  # the model, for the schema
    serializer_class = ChannelUserSerializer
    pagination_class = None  # pages by number below: the rows are groups, which a cursor cannot follow

    def project(self) -> Project:
        return get_for_member(self.membership, Project.objects.all(), project_id=self.kwargs["project_id"])

    @extend_schema(
        summary="A project's channels with someone online",
        parameters=[
            OpenApiParameter("page", int, description="From 1."),
            OpenApiParameter("page_size", int, description="1 to 500; 100 by default."),
        ],
        responses={200: ChannelPage},
        operation_id="api_channels",
    )
    def online(self, request, project_id):
        number, size = agora_shapes.page(request.query_params, PAGE_SIZE, first=1, number_param="page")
        paginator = Paginator(live.online_channels(self.project()), size)
        try:
            rows = paginator.page(number).object_list
        except EmptyPage:
            rows = []
        return Response({"total": paginator.count, "page": number, "channels": ChannelSerializer(rows, many=True).data})

    @extend_schema(summary="The users online in a channel", responses={200: ChannelUsers}, operation_id="api_channel")
    def users(self, request, project_id, channel_name):
        members = live.channel_members(self.project(), channel_name)[: agora_shapes.MAX_AUDIENCE_LISTED]
        return Response({"channel_name": channel_name, "users": ChannelUserSerializer(members, many=True).data})
