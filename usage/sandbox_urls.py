from django.urls import path

from . import sandbox

urlpatterns = [
    path("dev/v1/projects", sandbox.projects, name="sandbox_projects"),
    path("dev/v3/usage", sandbox.usage, name="sandbox_usage"),
]
