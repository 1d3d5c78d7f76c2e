"""The console's pages about channels, calls and notifications: /channels/ (every project's channels) and
each project's tabs under /projects/<project id>/."""

from django.urls import path

from . import alert_views, call_views, live_views, notification_views

app_name = "channels"

PROJECT = "projects/<project_id:project_id>/"


urlpatterns = [
    # Every project's live channels (navigation entry)
    path("channels/", live_views.index, name="index"),
    # Live channels, kicking rules
    path(f"{PROJECT}channels/", live_views.live_channels, name="live"),
    path(f"{PROJECT}channels/<str:channel_name>/", live_views.live_channel, name="channel"),
    path(f"{PROJECT}channels/<str:channel_name>/kick/<int:uid>/", live_views.kick, name="kick"),
    path(f"{PROJECT}rules/new/", live_views.new_rule, name="new_rule"),
    path(f"{PROJECT}rules/<int:pk>/extend/", live_views.extend_rule, name="extend_rule"),
    path(f"{PROJECT}rules/<int:pk>/lift/", live_views.remove_rule, name="remove_rule"),
    # Call inspector, quality
    path(f"{PROJECT}calls/", call_views.call_search, name="calls"),
    path(f"{PROJECT}calls/<str:call>/", call_views.call_page, name="call"),
    path(f"{PROJECT}quality/alerts/", alert_views.quality_alerts, name="quality_alerts"),
    path(f"{PROJECT}quality/alerts/<int:pk>/delete/", alert_views.delete_quality_alert, name="delete_quality_alert"),
    path(f"{PROJECT}quality/", call_views.quality_page, name="quality"),
    # Notifications (webhook settings)
    *notification_views.urlpatterns,  # the tab, enable, disable, rotate, check, reveal
]
