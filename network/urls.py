from django.urls import path

from . import webhook

app_name = "network"

urlpatterns = [
    path("agora/<project_id:project_id>/", webhook.agora_notification, name="agora_notification"),
]
