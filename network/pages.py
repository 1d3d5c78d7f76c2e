"""What every page of a project's channels, calls and notifications shares: the project, fetched within the
member's organization and project scope (404 otherwise), and the project's tabs."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.access import get_for_member
from console.navigation import Tab, project_tabs
from projects.models import Project

# Registered after the project's Settings tab when the app starts (apps.py).
TABS = (
    Tab("channels", "Live channels", "channels:live", requires=("channels", "view")),
    Tab("calls", "Calls", "channels:calls", requires=("channels", "view")),
    Tab("quality", "Quality", "channels:quality", requires=("channels", "view")),
    Tab("alerts", "Alerts", "channels:quality_alerts", requires=("channels", "view")),
    Tab("notifications", "Notifications", "channels:notifications", requires=("channels", "view")),
)


def project_for(request: HttpRequest, project_id: str) -> Project:
    return get_for_member(request.membership, Project.objects.select_related("organization"), project_id=project_id)


def render_project_page(
    request: HttpRequest, project: Project, tab: str, template: str, context: dict, *, title: str
) -> HttpResponse:
    """`template` (which extends network/project_page.html) for `project`, with `tab` marked as current."""
    context = {"project": project, "project_tabs": project_tabs(request, project, tab), "page_title": title, **context}
    return render(request, template, context)
