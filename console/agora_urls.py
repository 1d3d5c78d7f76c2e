"""Agora's Console RESTful API, at Agora's own paths (reference section 3), so scripts written for
https://api.agora.io work against this console with only the base URL changed. Agora's paths have no
trailing slash; older docs and public scripts add one, so both forms answer. Any other path under /dev/
is a JSON 404 (also with DEBUG on, where Django would show its HTML page)."""

from django.urls import re_path

from network import agora_channel_api as channels_api
from network import agora_kicking_api as kicking_api
from projects import agora_api as projects_api
from usage import agora_api as usage_api

from . import views


def agora_path(route: str, view, name: str):
    """`route` with or without a trailing slash; reverse() gives Agora's own form, without."""
    return re_path(rf"^{route}/?$", view, name=name)


urlpatterns = [
    agora_path("v1/projects", projects_api.ProjectsView.as_view(), "agora_projects"),
    agora_path("v1/project", projects_api.ProjectView.as_view(), "agora_project"),
    agora_path("v1/project_status", projects_api.ProjectStatusView.as_view(), "agora_project_status"),
    agora_path("v1/recording_config", projects_api.RecordingConfigView.as_view(), "agora_recording_config"),
    agora_path("v1/signkey", projects_api.SignKeyView.as_view(), "agora_signkey"),
    agora_path("v1/reset_signkey", projects_api.ResetSignKeyView.as_view(), "agora_reset_signkey"),
    agora_path("v3/usage", usage_api.UsageView.as_view(), "agora_usage"),
    # Channels: a name is one path segment (Agora's channel names have no "/")
    agora_path(
        r"v1/channel/user/property/(?P<appid>[^/]+)/(?P<uid>[^/]+)/(?P<channel_name>[^/]+)",
        channels_api.UserPropertyView.as_view(),
        "agora_channel_user_property",
    ),
    agora_path(
        r"v1/channel/user/(?P<appid>[^/]+)/(?P<channel_name>[^/]+)/(?P<hosts_only>hosts_only)",
        channels_api.ChannelHostsView.as_view(),
        "agora_channel_hosts",
    ),
    agora_path(
        r"v1/channel/user/(?P<appid>[^/]+)/(?P<channel_name>[^/]+)",
        channels_api.ChannelUsersView.as_view(),
        "agora_channel_users",
    ),
    agora_path(r"v1/channel/(?P<appid>[^/]+)", channels_api.ChannelListView.as_view(), "agora_channels"),
    agora_path("v1/kicking-rule", kicking_api.KickingRuleView.as_view(), "agora_kicking_rule"),
    re_path(r"", views.api_not_found),
]
