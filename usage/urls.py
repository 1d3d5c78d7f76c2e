from django.urls import path

from . import sync_views, views

app_name = "usage"
urlpatterns = [
    path("", views.usage_report, name="overview"),
    path("export.csv", views.usage_csv, name="export"),
    path("settings/", sync_views.upstream_settings, name="settings"),
    path("settings/test/", sync_views.test_connection, name="test_connection"),
    path("settings/mappings/", sync_views.mappings, name="mappings"),
    path("sync/", sync_views.data_sync, name="sync"),
    path("sync/<int:pk>/status/", sync_views.run_status, name="run_status"),
]
