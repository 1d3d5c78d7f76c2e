"""The native API for projects and their App Certificates, under /api/v1/projects/.

Same permissions as the pages (projects view / edit, certificates view / manage), same services, so the same
rules, locks and audit entries. Decisions:
- A project is addressed by its short project ID. Other organizations' projects and those outside the
  caller's scope answer 404.
- Certificate values are never listed: `POST .../certificates/reveal/{slot}/` returns one and is audited,
  like the page's reveal.
- Certificate operations take an optional `expected_version` (the certificates_version last read): when the
  certificates moved since, nothing is done and the answer is 409. A refused operation is 400.
- A browser session must have confirmed its password in the console lately for the operations the pages
  ask it for (the services refuse otherwise, 403: accounts.sudo); callers with an API credential are not asked.
"""

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.response import Response

from accounts.access import get_for_member, restrict
from console.api import Conflict, ErrorSerializer, ModulePermissionMixin
from console.refusals import RuleViolation

from . import services
from .api_serializers import (
    CertificateOperationSerializer,
    CertificatesSerializer,
    ProjectCreateSerializer,
    ProjectSerializer,
    ProjectUpdateSerializer,
    RevealedCertificateSerializer,
)
from .models import Certificate, Project
from .views import CERTIFICATE_OPERATIONS

PROJECTS_TAG = "Projects"
CERTIFICATES_TAG = "App Certificates"
STATUS_CHOICES = [("enabled", "Enabled"), ("disabled", "Disabled")]


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _project(membership, project_id: str) -> Project:
    queryset = Project.objects.select_related("organization").prefetch_related("certificates")
    return get_for_member(membership, queryset, project_id=project_id)


class ProjectFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=STATUS_CHOICES, method="filter_status")
    stage = django_filters.ChoiceFilter(choices=Project.Stage.choices)
    archived = django_filters.BooleanFilter(method="filter_archived", help_text="true: archived only; false: active.")
    search = django_filters.CharFilter(field_name="name", lookup_expr="icontains", help_text="Part of the name.")

    class Meta:
        model = Project
        fields = ["status", "stage", "archived", "search"]

    def filter_status(self, queryset, name, value):
        return queryset.filter(enabled=value == "enabled")

    def filter_archived(self, queryset, name, value):
        return queryset.filter(archived_at__isnull=not value)


@extend_schema(tags=[PROJECTS_TAG])
@extend_schema_view(list=extend_schema(summary="List projects"))
class ProjectViewSet(ModulePermissionMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Projects of the caller's organization, within their project scope. Reading needs projects "view";
    creating and changing need projects "edit"."""

    module = "projects"
    action_levels = dict.fromkeys(("create", "partial_update", "enable", "disable", "archive", "unarchive"), "edit")
    queryset = Project.objects.none()  # the model, for the schema; get_queryset narrows to the caller's
    serializer_class = ProjectSerializer
    filterset_class = ProjectFilter
    ordering = ("-created_at", "-pk")
    lookup_field = "project_id"

    def caller_queryset(self):
        return restrict(Project, self.membership)

    def get_object(self) -> Project:
        return _project(self.membership, self.kwargs["project_id"])

    @extend_schema(summary="Get a project")
    def retrieve(self, request, project_id):
        return Response(ProjectSerializer(self.get_object()).data)

    @extend_schema(summary="Create a project", request=ProjectCreateSerializer, responses={201: ProjectSerializer})
    def create(self, request):
        project = services.create_project(self.membership, request=request, **_valid(ProjectCreateSerializer, request))
        return Response(ProjectSerializer(project).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Change a project's settings", request=ProjectUpdateSerializer)
    def partial_update(self, request, project_id):
        project = self.get_object()
        changes = _valid(ProjectUpdateSerializer, request)
        fields = {name: changes.get(name, getattr(project, name)) for name in ("name", "use_case", "region", "stage")}
        project = services.update_project(self.membership, project, request=request, **fields)
        return Response(ProjectSerializer(project).data)

    def _change(self, request, service, value: bool) -> Response:
        project = service(self.membership, self.get_object(), value, request=request)
        return Response(ProjectSerializer(project).data)

    @extend_schema(summary="Enable a project", request=None)
    def enable(self, request, project_id):
        return self._change(request, services.set_enabled, True)

    @extend_schema(summary="Disable a project (no token can be issued for it)", request=None)
    def disable(self, request, project_id):
        return self._change(request, services.set_enabled, False)

    @extend_schema(summary="Archive a project", request=None)
    def archive(self, request, project_id):
        return self._change(request, services.set_archived, True)

    @extend_schema(summary="Restore an archived project", request=None)
    def unarchive(self, request, project_id):
        return self._change(request, services.set_archived, False)


# Certificates -----------------------------------------------------------------------------------

SLOT = OpenApiParameter("slot", OpenApiTypes.STR, OpenApiParameter.PATH, enum=Certificate.Slot.values)
CONFLICT = OpenApiResponse(ErrorSerializer, description="The certificates changed since expected_version.")


def _operation(name: str):
    """The viewset method for one certificate operation of the pages (projects.views.CERTIFICATE_OPERATIONS)."""
    spec = CERTIFICATE_OPERATIONS[name]

    @extend_schema(
        summary=spec.label,
        description=" ".join([spec.message, *spec.consequences]),
        request=CertificateOperationSerializer,
        responses={200: CertificatesSerializer, 409: CONFLICT},
    )
    def operate(self, request, project_id):
        return self._operate(request, name)

    operate.__name__ = name
    return operate


@extend_schema(tags=[CERTIFICATES_TAG])
class CertificateViewSet(ModulePermissionMixin, viewsets.GenericViewSet):
    """A project's App Certificates. Reading and revealing need certificates "view"; operations need
    certificates "manage" and take an optional expected_version (409 when the certificates moved since)."""

    module = "certificates"
    action_levels = dict.fromkeys(CERTIFICATE_OPERATIONS, "manage")
    queryset = Project.objects.none()
    serializer_class = CertificatesSerializer
    pagination_class = None
    filter_backends = []
    lookup_field = "project_id"

    def caller_queryset(self):
        return restrict(Project, self.membership)

    @extend_schema(summary="Both certificate slots of a project (never the values)")
    def retrieve(self, request, project_id):
        return Response(CertificatesSerializer(_project(self.membership, project_id)).data)

    @extend_schema(
        summary="Reveal a certificate's value (audited)",
        parameters=[SLOT],
        request=None,
        responses=RevealedCertificateSerializer,
    )
    def reveal(self, request, project_id, slot):
        project = _project(self.membership, project_id)
        certificate = project.certificate(slot)
        if certificate is None:
            raise exceptions.NotFound(f"This project has no {slot} certificate.")
        value = services.reveal_certificate(self.membership, project, slot, request=request)
        response = Response({"slot": slot, "fingerprint": certificate.fingerprint, "value": value})
        response["Cache-Control"] = "no-store"
        return response

    enable_primary = _operation("enable_primary")
    enable_secondary = _operation("enable_secondary")
    swap = _operation("swap")
    disable_secondary = _operation("disable_secondary")
    delete_secondary = _operation("delete_secondary")
    reset_primary = _operation("reset_primary")
    require_tokens = _operation("require_tokens")

    def _operate(self, request, name: str) -> Response:
        spec = CERTIFICATE_OPERATIONS[name]
        project = _project(self.membership, self.kwargs["project_id"])
        expected = _valid(CertificateOperationSerializer, request).get("expected_version")
        try:
            spec.service(self.membership, project, expected_version=expected, request=request)
        except RuleViolation:
            current = Project.objects.filter(pk=project.pk).values_list("certificates_version", flat=True).first()
            if expected is not None and current != expected:
                raise Conflict(
                    f"The certificates are at version {current}, not {expected}: they changed since you read them. "
                    "Nothing was done; read them again and retry."
                ) from None
            raise
        return Response(CertificatesSerializer(_project(self.membership, project.project_id)).data)
