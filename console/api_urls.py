"""The native API under /api/v1/, its OpenAPI schema and its docs page."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView
from rest_framework.permissions import AllowAny

import projects.converters  # noqa: F401  (registers <project_id:...>)
from tokens import api as tokens_api

urlpatterns = [
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
    # The schema and its docs describe the API to anyone; every endpoint still checks its caller.
    path("schema/", SpectacularAPIView.as_view(permission_classes=[AllowAny]), name="api_schema"),
    path(
        "docs/",
        SpectacularRedocView.as_view(
            url_name="api_schema", permission_classes=[AllowAny], template_name="console/api_docs.html"
        ),
        name="api_docs",
    ),
]
