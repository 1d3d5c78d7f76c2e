from django.urls import path, re_path

from . import views
from .converters import ProjectIdConverter

app_name = "projects"
PROJECT = rf"(?P<project_id>{ProjectIdConverter.regex})"

urlpatterns = [
    path("", views.project_list, name="list"),
    path("new/", views.create_project, name="create"),
    path("<project_id:project_id>/", views.project_detail, name="detail"),
    path("<project_id:project_id>/edit/", views.edit_project, name="edit"),
    path("<project_id:project_id>/rotation/", views.rotation, name="rotation"),
    re_path(rf"^{PROJECT}/(?P<action>enable|disable|archive|unarchive)/$", views.project_action, name="action"),
    re_path(
        rf"^{PROJECT}/certificates/(?P<slot>primary|secondary)/reveal/$",
        views.reveal_certificate,
        name="reveal_certificate",
    ),
    path(
        "<project_id:project_id>/certificates/<str:operation>/",
        views.certificate_operation,
        name="certificate_operation",
    ),
]
