from django.urls import path

import projects.converters  # noqa: F401  (registers <project_id:...>)

from . import views

app_name = "tokens"
urlpatterns = [
    path("projects/<project_id:project_id>/temp-token/", views.temp_token, name="temp_token"),
    path("tokens/inspect/", views.inspector, name="inspector"),
]
