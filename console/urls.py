from pathlib import Path

from django.contrib import admin
from django.urls import include, path
from django.views.static import serve

from . import metrics, views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # For what names no icon (JSON, the API docs): one fixed file, so static.serve's open paths are not at stake.
    path("favicon.ico", serve, {"path": "favicon.svg", "document_root": Path(__file__).parent / "static/console"}),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("overview/", views.overview, name="overview"),
    path("", include("accounts.urls")),
    path("", include("tokens.urls")),
    path("projects/", include("projects.urls")),
    path("", include("network.page_urls")),
    path("usage/", include("usage.urls")),
    path("billing/", include("billing.urls")),
    path("api/", include("console.api_urls")),
    path("dev/", include("console.agora_urls")),  # Agora's Console RESTful API paths
    path("beta/", include("network.beta_urls")),  # Agora Analytics' call inspector API paths
    path("sandbox/", include("usage.sandbox_urls")),
    path("webhooks/", include("network.urls")),  # Agora's signed notifications
    path("admin/login/", views.admin_sign_in),  # before the admin's own: one sign-in page for both
    path("admin/", admin.site.urls),
]

# Errors under /api/, /dev/, /beta/ and /sandbox/ answer {"message": ...}; elsewhere the console's pages.
handler400 = "console.views.bad_request"
handler403 = "console.views.permission_denied"
handler404 = "console.views.page_not_found"
handler500 = "console.views.server_error"
