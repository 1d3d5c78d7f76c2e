"""Agora's Console RESTful API, at Agora's own paths (reference section 3), so scripts written for
https://api.agora.io work against this console with only the base URL changed. No trailing slashes:
Agora's paths have none."""

from django.urls import path

from projects import agora_api as projects_api
from usage import agora_api as usage_api

urlpatterns = [
    path("v1/projects", projects_api.ProjectsView.as_view(), name="agora_projects"),
    path("v1/project", projects_api.ProjectView.as_view(), name="agora_project"),
    path("v1/project_status", projects_api.ProjectStatusView.as_view(), name="agora_project_status"),
    path("v1/recording_config", projects_api.RecordingConfigView.as_view(), name="agora_recording_config"),
    path("v1/signkey", projects_api.SignKeyView.as_view(), name="agora_signkey"),
    path("v1/reset_signkey", projects_api.ResetSignKeyView.as_view(), name="agora_reset_signkey"),
    path("v3/usage", usage_api.UsageView.as_view(), name="agora_usage"),
]
