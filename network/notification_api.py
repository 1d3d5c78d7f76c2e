"""The native API for a project's notification settings: GET|PATCH /api/v1/projects/{project_id}/notifications/.

The same permissions and services as the Notifications tab: channels "view" to read, channels "manage" to
change; another organization's project, or one outside the caller's scope, answers 404. Decisions:
- `secret` is always in the answer: the value for a caller whose role may view App Certificates (each such answer
  is audited as a reveal, never with the value), else null; null too while notifications were never enabled.
- A project that never enabled notifications answers enabled false, the event types and retention it would
  start with, and updated_at null. PATCH {"enabled": true} enables them (with a new secret the first time);
  event_types and retention_days need them enabled once, in the same PATCH or before.
- One PATCH is one transaction: enable, then event types and retention, then rotate, then disable; if any is
  refused (400), nothing of it is done.
"""

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.access import get_for_member
from console.api import ModulePermissionMixin, error
from projects.models import Project

from . import services
from .models import NotificationSettings, default_event_types
from .notification_serializers import NotificationSettingsSerializer, NotificationSettingsUpdateSerializer
from .notification_views import receiving_url  # one definition: the tab shows the same URL

TAG = "Channels and calls"
DEFAULT_RETENTION_DAYS = NotificationSettings._meta.get_field("retention_days").get_default()


@extend_schema(tags=[TAG])
class NotificationSettingsViewSet(ModulePermissionMixin, viewsets.GenericViewSet):
    """A project's notification settings: channels "view" to read them, channels "manage" to change them."""

    module = "channels"
    action_levels = {"partial_update": "manage"}
    queryset = Project.objects.none()
    serializer_class = NotificationSettingsSerializer
    pagination_class = None
    filter_backends = []

    def _project(self, project_id: str) -> Project:
        return get_for_member(self.membership, Project.objects.select_related("organization"), project_id=project_id)

    def _answer(self, request: Request, project: Project, *, with_secret: bool = True) -> Response:
        receiving = NotificationSettings.objects.filter(project=project).first()
        secret = None
        if receiving is not None and with_secret and self.membership.can("certificates", "view"):
            secret = services.reveal_secret(self.membership, project, door="api", request=request)
        data = {
            "receiving_url": receiving_url(request, project),
            "enabled": bool(receiving and receiving.enabled),
            "event_types": receiving.event_types if receiving else default_event_types(),
            "retention_days": receiving.retention_days if receiving else DEFAULT_RETENTION_DAYS,
            "updated_at": receiving.updated_at if receiving else None,
            "secret": secret,
        }
        response = Response(NotificationSettingsSerializer(data).data)
        if secret is not None:
            response["Cache-Control"] = "no-store"
        return response

    @extend_schema(
        summary="A project's notification settings (webhooks)",
        description="The receiving URL to enter in Agora's console, whether notifications are enabled, the event "
        "types, the retention, and the secret for roles that may view App Certificates (null otherwise; audited).",
    )
    def retrieve(self, request: Request, project_id: str) -> Response:
        return self._answer(request, self._project(project_id))

    @extend_schema(
        summary="Change a project's notification settings",
        description="Enable or disable notifications, change the event types or the retention (1 to 30 days), or "
        'rotate the secret with {"rotate_secret": true}. Only the fields given change; each change is audited.',
        request=NotificationSettingsUpdateSerializer,
        responses=NotificationSettingsSerializer,
    )
    def partial_update(self, request: Request, project_id: str) -> Response:
        project = self._project(project_id)
        serializer = NotificationSettingsUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changes = serializer.validated_data
        actor = self.membership
        with transaction.atomic():
            exists = NotificationSettings.objects.filter(project=project).exists()
            if changes.get("enabled") is True:
                services.enable(actor, project, request=request)
                exists = True
            if "event_types" in changes or "retention_days" in changes:
                if not exists:
                    return error('Notifications were never enabled for this project: send "enabled": true too.')
                current = NotificationSettings.objects.get(project=project)
                services.update(
                    actor,
                    project,
                    event_types=changes.get("event_types", current.event_types),
                    retention_days=changes.get("retention_days", current.retention_days),
                    request=request,
                )
            if changes.get("rotate_secret"):
                services.rotate_secret(actor, project, request=request)
            if changes.get("enabled") is False and exists:
                services.disable(actor, project, request=request)
        return self._answer(request, project)
