from django.urls import path

from console.views import coming_soon

app_name = "projects"
urlpatterns = [
    path(
        "",
        coming_soon("projects", "Projects", "Create projects, copy App IDs and rotate App Certificates."),
        name="list",
    ),
]
