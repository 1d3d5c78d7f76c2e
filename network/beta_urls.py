"""Agora Analytics' paths under /beta/ (reference section 3): the call inspector API. As under /dev/, each
path answers with or without a trailing slash, and any other path under /beta/ is a JSON 404."""

from django.urls import re_path

from console import views
from console.agora_urls import agora_path

from . import agora_analytics_api as analytics

urlpatterns = [
    agora_path("analytics/call/lists", analytics.CallListsView.as_view(), "agora_call_lists"),
    agora_path("analytics/call/sessions", analytics.CallSessionsView.as_view(), "agora_call_sessions"),
    agora_path("analytics/call/metrics", analytics.CallMetricsView.as_view(), "agora_call_metrics"),
    re_path(r"", views.api_not_found),
]
