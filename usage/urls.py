from django.urls import path

from console.views import coming_soon

app_name = "usage"
urlpatterns = [
    path(
        "",
        coming_soon("usage", "Usage", "Daily minutes per project and tier, pulled from the usage API."),
        name="overview",
    ),
]
