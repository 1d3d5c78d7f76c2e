"""The native API under /api/v1/, its OpenAPI schema and its docs page.

Paths are written out (no router) so that each URL name says what it is; every name starts with "api_".
"""

import threading

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.http import JsonResponse
from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView
from rest_framework.permissions import AllowAny

from accounts import api as accounts_api
from billing import api as billing_api
from network import call_api, channel_api, kicking_api, notification_api
from projects import api as projects_api
from projects.converters import ProjectIdConverter
from tokens import api as tokens_api
from usage import api as usage_api

PROJECT = "v1/projects/<project_id:project_id>/"
CERTIFICATES = f"{PROJECT}certificates/"


@csrf_exempt  # changes nothing; a POST should get the same 404, not the CSRF page
def no_such_endpoint(request, rest=""):
    """Any other path under /api/ (a malformed project ID, say) answers as the API does, not with a page."""
    return JsonResponse({"message": "No such API endpoint."}, status=404)


# The docs page runs ReDoc, which needs more than the console's policy allows, on this page only: it styles
# itself with <style> elements it writes at run time, draws its icons from data: images and searches in a
# worker started from a blob: URL. Scripts stay 'self'. The page shows the public schema and nothing of anyone's.
api_docs = csp_update({"style-src": [UNSAFE_INLINE], "img-src": ["data:"], "worker-src": ["blob:"]})(
    SpectacularRedocView.as_view(
        url_name="api_schema", permission_classes=[AllowAny], template_name="console/api_docs.html"
    )
)


class SchemaView(SpectacularAPIView):
    """One schema built at a time per process: drf-spectacular resolves its extensions on first use, and two
    threads doing it at once (gunicorn's gthread workers) can break it with a 500."""

    building = threading.Lock()

    def dispatch(self, request, *args, **kwargs):  # not get(): its schema description stays the library's
        with self.building:
            return super().dispatch(request, *args, **kwargs)


projects = projects_api.ProjectViewSet
certificates = projects_api.CertificateViewSet

urlpatterns = [
    # Projects
    path("v1/projects/", projects.as_view({"get": "list", "post": "create"}), name="api_projects"),
    path(PROJECT, projects.as_view({"get": "retrieve", "patch": "partial_update"}), name="api_project"),
    *[
        path(f"{PROJECT}{action}/", projects.as_view({"post": action}), name=f"api_project_{action}")
        for action in ("enable", "disable", "archive", "unarchive")
    ],
    # App Certificates
    path(CERTIFICATES, certificates.as_view({"get": "retrieve"}), name="api_certificates"),
    re_path(
        rf"^v1/projects/(?P<project_id>{ProjectIdConverter.regex})/certificates/reveal/(?P<slot>primary|secondary)/$",
        certificates.as_view({"post": "reveal"}),
        name="api_certificate_reveal",
    ),
    *[
        path(
            f"{CERTIFICATES}{operation}/",
            certificates.as_view({"post": operation}),
            name=f"api_certificate_{operation}",
        )
        for operation in projects_api.CERTIFICATE_OPERATIONS
    ],
    # Tokens
    path("v1/projects/<project_id:project_id>/tokens", tokens_api.TokenView.as_view(), name="api_tokens"),
    path(
        "v1/projects/<project_id:project_id>/rtc/<str:channel>/<str:role>/<str:id_type>/<str:user>/",
        tokens_api.CommunityRtcTokenView.as_view(),
        name="api_community_rtc_token",
    ),
    path(
        "v1/projects/<project_id:project_id>/rtm/<str:user_id>/",
        tokens_api.CommunityRtmTokenView.as_view(),
        name="api_community_rtm_token",
    ),
    # Kicking rules (channels)
    path(
        f"{PROJECT}kicking-rules/",
        kicking_api.KickingRuleViewSet.as_view({"get": "list", "post": "create"}),
        name="api_kicking_rules",
    ),
    path(
        f"{PROJECT}kicking-rules/<int:rule_id>/",
        kicking_api.KickingRuleViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="api_kicking_rule",
    ),
    # Calls (call inspector)
    path(f"{PROJECT}channels/", channel_api.ChannelViewSet.as_view({"get": "online"}), name="api_channels"),
    path(
        f"{PROJECT}channels/<str:channel_name>/",
        channel_api.ChannelViewSet.as_view({"get": "users"}),
        name="api_channel",
    ),
    path(f"{PROJECT}calls/", call_api.CallListView.as_view(), name="api_calls"),
    path(f"{PROJECT}calls/<str:id>/", call_api.CallDetailView.as_view(), name="api_call"),
    path(f"{PROJECT}calls/<str:id>/metrics/", call_api.CallMetricsView.as_view(), name="api_call_metrics"),
    # Notification settings (webhooks)
    path(
        f"{PROJECT}notifications/",
        notification_api.NotificationSettingsViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="api_project_notifications",
    ),
    # Usage
    path("v1/usage/daily/", usage_api.DailyUsageViewSet.as_view({"get": "list"}), name="api_usage_daily"),
    path("v1/usage/summary/", usage_api.UsageSummaryViewSet.as_view({"get": "summary"}), name="api_usage_summary"),
    # Billing
    path("v1/billing/estimate/", billing_api.EstimateViewSet.as_view({"get": "current"}), name="api_estimate"),
    path("v1/statements/", billing_api.StatementViewSet.as_view({"get": "list"}), name="api_statements"),
    re_path(  # invoice numbers only (INV-YYYYMM-####): nothing else reaches a query
        r"^v1/statements/(?P<number>[A-Za-z0-9-]{1,20})/$",
        billing_api.StatementViewSet.as_view({"get": "retrieve"}),
        name="api_statement",
    ),
    path("v1/transactions/", billing_api.TransactionViewSet.as_view({"get": "list"}), name="api_transactions"),
    # Members, roles, audit log
    path("v1/members/", accounts_api.MemberViewSet.as_view({"get": "list"}), name="api_members"),
    path("v1/members/<int:pk>/", accounts_api.MemberViewSet.as_view({"get": "retrieve"}), name="api_member"),
    path("v1/roles/", accounts_api.RoleViewSet.as_view({"get": "list"}), name="api_roles"),
    path("v1/roles/<int:pk>/", accounts_api.RoleViewSet.as_view({"get": "retrieve"}), name="api_role"),
    path("v1/audit/", accounts_api.AuditViewSet.as_view({"get": "list"}), name="api_audit"),
    # The schema and its docs describe the API to anyone; every endpoint still checks its caller.
    path("schema/", SchemaView.as_view(permission_classes=[AllowAny]), name="api_schema"),
    path("docs/", api_docs, name="api_docs"),
    re_path(r"^(?P<rest>v1/[\s\S]*)", no_such_endpoint),  # last: what nothing above matched (newlines too)
]
