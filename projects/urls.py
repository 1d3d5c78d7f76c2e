from django.urls import path, re_path

from . import views

app_name = "projects"
PROJECT = "(?P<project_id>[A-Za-z0-9]{1,16})"

urlpatterns = [
    path("", views.project_list, name="list"),
    path("new/", views.create_project, name="create"),
    path("<str:project_id>/", views.project_detail, name="detail"),
    path("<str:project_id>/edit/", views.edit_project, name="edit"),
    path("<str:project_id>/rotation/", views.rotation, name="rotation"),
    re_path(rf"^{PROJECT}/(?P<action>enable|disable|archive|unarchive)/$", views.project_action, name="action"),
    re_path(
        rf"^{PROJECT}/certificates/(?P<slot>primary|secondary)/reveal/$",
        views.reveal_certificate,
        name="reveal_certificate",
    ),
    path("<str:project_id>/certificates/<str:operation>/", views.certificate_operation, name="certificate_operation"),
]
