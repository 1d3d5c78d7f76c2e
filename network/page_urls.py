"""The console's pages about channels, calls and notifications: /channels/ (every project's channels) and
each project's tabs under /projects/<project id>/."""

from django.urls import path
from django.views.decorators.http import require_safe

from accounts.access import member_required

from . import live_views
from .pages import project_for, render_project_page

app_name = "channels"

PROJECT = "projects/<project_id:project_id>/"


def _later(tab, title):
    @member_required("channels")
    @require_safe
    def view(request, project_id):
        project = project_for(request, project_id)
        return render_project_page(request, project, tab, "network/later.html", {}, title=title)

    return view


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
    path(f"{PROJECT}calls/", _later("calls", "Calls"), name="calls"),
    path(f"{PROJECT}quality/", _later("quality", "Quality"), name="quality"),
    # Notifications (webhook settings)
    path(f"{PROJECT}notifications/", _later("notifications", "Notifications"), name="notifications"),
]
