from django.urls import path

from . import views

app_name = "tokens"
urlpatterns = [
    path("projects/<str:project_id>/temp-token/", views.temp_token, name="temp_token"),
    path("tokens/inspect/", views.inspector, name="inspector"),
]
