"""The native API for members, roles and the audit log, read only: `/api/v1/members/`, `/api/v1/roles/`
(members view) and `/api/v1/audit/` (audit view). Changes to members and roles stay in the console, where
they can ask for the password."""

from datetime import UTC, date, datetime, time, timedelta

import django_filters
from django.db.models import Q
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, viewsets

from console.api import ModulePermissionMixin

from . import audit
from .access import get_for_member, restrict
from .api_serializers import AuditEntrySerializer, MemberSerializer, RoleSerializer
from .models import AuditEntry, Membership, Role

TAG = "Members, roles and audit log"


class ReadOnlyViewSet(ModulePermissionMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    # List and retrieve within the caller's organization (get_for_member: 404 outside it).

    def get_object(self):
        return get_for_member(self.membership, self.get_queryset(), pk=self.kwargs["pk"])


class MemberFilter(django_filters.FilterSet):
    role = django_filters.NumberFilter(field_name="role_id", help_text="A role id.")
    search = django_filters.CharFilter(method="filter_search", help_text="Part of the email address or name.")

    class Meta:
        model = Membership
        fields = ["role", "search"]

    def filter_search(self, queryset, name, value):
        return queryset.filter(Q(user__email__icontains=value) | Q(user__name__icontains=value))


@extend_schema(tags=[TAG])
@extend_schema_view(
    list=extend_schema(summary="Members of the organization"), retrieve=extend_schema(summary="A member")
)
class MemberViewSet(ReadOnlyViewSet):
    """Members of the caller's organization with their role. Needs members "view"."""

    module = "members"
    queryset = Membership.objects.none()
    serializer_class = MemberSerializer
    filterset_class = MemberFilter
    ordering = ("created_at", "pk")  # in the order they joined, as the members page

    def caller_queryset(self):
        return restrict(Membership, self.membership).select_related("user", "role", "organization")


@extend_schema(tags=[TAG])
@extend_schema_view(
    list=extend_schema(summary="Roles (Agora's teams) with their level per module"),
    retrieve=extend_schema(summary="A role"),
)
class RoleViewSet(ReadOnlyViewSet):
    """Roles with their level per module and their project scope. Needs members "view"."""

    module = "members"
    queryset = Role.objects.none()
    serializer_class = RoleSerializer
    ordering = ("pk",)  # built-in roles first: they are created with the organization

    def caller_queryset(self):
        return restrict(Role, self.membership).prefetch_related("projects")


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


class AuditFilter(django_filters.FilterSet):
    action = django_filters.CharFilter(help_text="An action code, e.g. certificate.swapped.")
    actor = django_filters.CharFilter(field_name="actor_email", help_text="The actor's email address.")
    date_from = django_filters.DateFilter(method="filter_date_from", help_text="First UTC day.")
    date_to = django_filters.DateFilter(method="filter_date_to", help_text="Last UTC day, included.")

    class Meta:
        model = AuditEntry
        fields = ["action", "actor", "date_from", "date_to"]

    def filter_date_from(self, queryset, name, value):
        return queryset.filter(created_at__gte=_day_start(value))

    def filter_date_to(self, queryset, name, value):
        if value == date.max:
            return queryset
        return queryset.filter(created_at__lt=_day_start(value + timedelta(days=1)))


@extend_schema(tags=[TAG])
@extend_schema_view(list=extend_schema(summary="The organization's audit log, newest first"))
class AuditViewSet(ModulePermissionMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Security-relevant actions in the organization, and sign-ins of its members. Needs audit "view"."""

    module = "audit"
    queryset = AuditEntry.objects.none()
    serializer_class = AuditEntrySerializer
    filterset_class = AuditFilter
    ordering = ("-created_at", "-pk")

    def caller_queryset(self):
        return audit.entries_for(self.membership.organization, self.membership)
