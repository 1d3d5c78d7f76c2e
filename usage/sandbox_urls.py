from django.urls import path, re_path

from network import sandbox_api as network

from . import sandbox

urlpatterns = [
    path("dev/v1/projects", sandbox.projects, name="sandbox_projects"),
    path("dev/v3/usage", sandbox.usage, name="sandbox_usage"),
    # The network the sandbox plays (network/sandbox_api.py): a channel name is one path segment.
    re_path(
        r"^dev/v1/channel/user/property/(?P<appid>[^/]+)/(?P<uid>[^/]+)/(?P<channel_name>[^/]+)$",
        network.user_property,
        name="sandbox_channel_user_property",
    ),
    re_path(
        r"^dev/v1/channel/user/(?P<appid>[^/]+)/(?P<channel_name>[^/]+)/(?P<hosts_only>hosts_only)$",
        network.channel_users,
        name="sandbox_channel_hosts",
    ),
    re_path(
        r"^dev/v1/channel/user/(?P<appid>[^/]+)/(?P<channel_name>[^/]+)$",
        network.channel_users,
        name="sandbox_channel_users",
    ),
    re_path(r"^dev/v1/channel/(?P<appid>[^/]+)$", network.channels, name="sandbox_channels"),
    path("dev/v1/kicking-rule", network.kicking_rules, name="sandbox_kicking_rules"),
    path("beta/analytics/call/lists", network.call_lists, name="sandbox_call_lists"),
    path("beta/analytics/call/sessions", network.call_sessions, name="sandbox_call_sessions"),
    path("beta/analytics/call/metrics", network.call_metrics, name="sandbox_call_metrics"),
]
