"""The native API for usage: `/api/v1/usage/daily/` (the stored daily rows) and `/api/v1/usage/summary/`
(seconds and billed minutes per tier over a range, as the usage page computes them). Usage view, and only
the projects in the caller's scope. A project ID the caller may not see is refused (400), never ignored."""

from datetime import date

import django_filters
from django.db.models import Sum
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, viewsets
from rest_framework.response import Response

from accounts.access import restrict
from console.api import ModulePermissionMixin
from projects.models import Project

from . import minutes as billable
from .api_serializers import DailyUsageSerializer, SummaryQuerySerializer, UsageSummarySerializer
from .models import DailyUsage
from .report import BUSINESS_LABELS, COLUMNS, ProjectRef, Row, total_row, usage_report

TAG = "Usage"


def _visible_projects(request):
    if request is None or getattr(request, "membership", None) is None:
        return Project.objects.none()  # the schema generator's fake request
    return restrict(Project, request.membership)


class DailyUsageFilter(django_filters.FilterSet):
    project = django_filters.ModelChoiceFilter(
        queryset=_visible_projects, to_field_name="project_id", help_text="A project ID."
    )
    date_from = django_filters.DateFilter(field_name="date", lookup_expr="gte", help_text="First UTC day.")
    date_to = django_filters.DateFilter(field_name="date", lookup_expr="lte", help_text="Last UTC day, included.")
    business = django_filters.ChoiceFilter(choices=list(BUSINESS_LABELS.items()))

    class Meta:
        model = DailyUsage
        fields = ["project", "date_from", "date_to", "business"]


@extend_schema(tags=[TAG])
@extend_schema_view(list=extend_schema(summary="Daily usage rows, newest first (seconds per tier)"))
class DailyUsageViewSet(ModulePermissionMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """One row per project, UTC day and business, in seconds per tier, as pulled from the upstream.
    Needs usage "view"; only projects in the caller's scope."""

    module = "usage"
    queryset = DailyUsage.objects.none()
    serializer_class = DailyUsageSerializer
    filterset_class = DailyUsageFilter
    ordering = ("-date", "-pk")

    def caller_queryset(self):
        return restrict(DailyUsage, self.membership).select_related("project")


@extend_schema(tags=[TAG])
class UsageSummaryViewSet(ModulePermissionMixin, viewsets.GenericViewSet):
    """Seconds and billed minutes per tier over a range (at most 731 days), as the usage page counts them.
    Needs usage "view"."""

    module = "usage"
    serializer_class = UsageSummarySerializer
    pagination_class = None
    filter_backends = []

    @extend_schema(
        summary="Usage totals over a range, optionally per day, month or project", parameters=[SummaryQuerySerializer]
    )
    def summary(self, request):
        query = SummaryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        projects = self._projects(params.get("project", []))
        day_from, day_to, business = params["date_from"], params["date_to"], params["business"]
        group_by = params.get("group_by")
        if group_by == "project":
            groups = _per_project(projects, day_from, day_to, business)
            total = total_row(groups, day_from, day_to)
        else:
            report = usage_report(projects, day_from, day_to, business, granularity=group_by or "month")
            groups = report.periods if group_by else []
            total = report.totals
        summary = {
            "date_from": day_from,
            "date_to": day_to,
            "business": business,
            "projects": list(dict.fromkeys(params.get("project", []))),
            "group_by": group_by,
            "total": total,
            "groups": groups,
        }
        return Response(UsageSummarySerializer(summary).data)

    def _projects(self, project_ids: list[str]):
        visible = restrict(Project, self.membership)
        if not project_ids:
            return visible
        chosen = visible.filter(project_id__in=project_ids)
        unknown = set(project_ids) - set(chosen.values_list("project_id", flat=True))
        if unknown:
            raise exceptions.ValidationError(f"Not among your projects: {', '.join(sorted(unknown)[:5])}.")
        return chosen


def _per_project(projects, day_from: date, day_to: date, business: str) -> list[Row]:
    """One row per project with usage in the range (one query), by project name."""
    usage = DailyUsage.objects.filter(
        project__in=projects.values("pk"), business=business, date__gte=day_from, date__lte=day_to
    )
    sums = (
        usage.values("project_id", "project__project_id", "project__name")
        .annotate(**{f"sum_{column}": Sum(column) for column in COLUMNS}, **billable.minutes_sums())
        .order_by("project__name", "project_id")
    )
    rows = []
    for values in sums:
        seconds = tuple(int(values[f"sum_{column}"] or 0) for column in COLUMNS)
        if any(seconds):
            project = ProjectRef(values["project_id"], values["project__project_id"], values["project__name"])
            rows.append(Row(day_from, day_to, seconds, billable.read_minutes(values), "month", project))
    return rows
