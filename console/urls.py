from django.contrib import admin
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("overview/", views.overview, name="overview"),
    path("", include("accounts.urls")),
    path("", include("tokens.urls")),
    path("projects/", include("projects.urls")),
    path("usage/", include("usage.urls")),
    path("billing/", include("billing.urls")),
    path("api/", include("console.api_urls")),
    path("dev/", include("console.agora_urls")),  # Agora's Console RESTful API paths
    path("sandbox/", include("usage.sandbox_urls")),
    path("admin/", admin.site.urls),
]
