"""Agora's channel queries (reference section 4.1 to 4.3) at Agora's paths under /dev/v1/, answered from what
the console knows now (webhooks, reconciled by the channel pull), so a customer's server code that asks
Agora who is online works against the console unchanged. Authentication, throttling, X-Resource-ID and
errors as projects/agora_api.py; channels "view" is needed.

- The appid names one of the caller's projects (organization and scope); any other is 400
  {"message": "invalid appid"}, Agora's answer for an App ID it does not know.
- page_no counts from 0; page_size is 1 to 500 (default 100); a page past the end is empty, as Agora's.
- hosts_only: any value (even empty) asks for hosts only, also as the path suffix /hosts_only.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from accounts.access import module_permission, restrict
from console.api import error
from projects.agora_api import AgoraView
from projects.models import Project
from usage.agora_serializers import QueryError

from . import agora_shapes, live

TAG = "Agora-compatible: channels"
CHANNELS_VIEW = module_permission("channels", "view")
APP_ID = OpenApiParameter("appid", str, location=OpenApiParameter.PATH, description="The project's App ID.")
CHANNEL = OpenApiParameter("channel_name", str, location=OpenApiParameter.PATH, description="The channel name.")
ANSWER = {200: OpenApiTypes.OBJECT}  # Agora's shapes, as network/agora_shapes.py builds them


class ChannelView(AgoraView):
    required = {"GET": CHANNELS_VIEW}

    def project_by_app_id(self, app_id: str) -> Project:
        project = restrict(Project.objects.active(), self.request.membership).filter(app_id=app_id.lower()).first()
        if project is None:
            raise QueryError("invalid appid")
        return self.concerns(project)

    def handle_exception(self, exc):
        if isinstance(exc, QueryError):
            return error(exc.message, exc.status)
        return super().handle_exception(exc)


class ChannelListView(ChannelView):
    @extend_schema(
        tags=[TAG],
        responses=ANSWER,
        summary="Online channels",
        parameters=[
            APP_ID,
            OpenApiParameter("page_no", int, description="From 0 (the first page)."),
            OpenApiParameter("page_size", int, description="1 to 500; 100 by default."),
        ],
        description="The project's channels with someone online now, busiest first, with their user counts.",
    )
    def get(self, request, appid):
        project = self.project_by_app_id(appid)
        page_no, page_size = agora_shapes.page(request.query_params, agora_shapes.CHANNEL_PAGE_SIZE, first=0)
        return Response(live.channel_list_answer(project, page_no, page_size))


class ChannelUsersView(ChannelView):
    @extend_schema(
        tags=[TAG],
        responses=ANSWER,
        summary="Users in a channel",
        parameters=[APP_ID, CHANNEL, OpenApiParameter("hosts_only", str, description="Any value: hosts only.")],
        description="Communication profile (mode 1): `users`. Live (mode 2): `broadcasters`, `audience` (the "
        "first 10,000) and `audience_total`. A channel nobody is in: `channel_exist` false.",
    )
    def get(self, request, appid, channel_name, hosts_only=None):
        project = self.project_by_app_id(appid)
        only_hosts = hosts_only is not None or "hosts_only" in request.query_params
        return Response(live.channel_users_answer(project, channel_name, hosts_only=only_hosts))


class ChannelHostsView(ChannelUsersView):
    """The same question as `?hosts_only`, asked by its path suffix /hosts_only."""

    @extend_schema(
        tags=[TAG],
        responses=ANSWER,
        summary="Hosts in a channel",
        operation_id="agora_channel_hosts",
        parameters=[
            APP_ID,
            CHANNEL,
            OpenApiParameter("hosts_only", str, location=OpenApiParameter.PATH, enum=["hosts_only"]),
        ],
        description="`channel_exist`, `mode` and `broadcasters` only.",
    )
    def get(self, request, appid, channel_name, hosts_only=None):
        return super().get(request, appid, channel_name, hosts_only="hosts_only")


class UserPropertyView(ChannelView):
    @extend_schema(
        tags=[TAG],
        responses=ANSWER,
        summary="One user's state in a channel",
        parameters=[APP_ID, CHANNEL, OpenApiParameter("uid", int, location=OpenApiParameter.PATH)],
        description="`in_channel`, and when true the join time (Unix s), role (1 communication, 2 host, "
        "3 audience) and platform.",
    )
    def get(self, request, appid, uid, channel_name):
        project = self.project_by_app_id(appid)
        return Response(live.user_property_answer(project, agora_shapes.uid_of(uid), channel_name))
