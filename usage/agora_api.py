"""Agora's `GET /dev/v3/usage` (reference section 3) over the console's own stored usage, for scripts
written against https://api.agora.io. Authentication, permissions and the rate limit as in
projects/agora_api.py; usage "view" is needed.

- The answer comes from DailyUsage (what the console pulled from its upstream, the figures bills use), for
  the member's organization and project scope: one entry per day of the range, zeros for days without a
  row, for the asked `business` (default "default").
- The question is checked exactly as Agora (and the sandbox) check it (usage/agora_serializers.py): from_date and
  to_date strictly YYYY-MM-DD, from <= to, at most a year; 400 otherwise. A project of another organization
  or outside the scope is 404 {"message": "project not exist"}. Archived projects keep their usage, as on the
  usage pages.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import module_permission, restrict
from console.api import error
from projects.models import Project

from .agora_serializers import QueryError, UsageAnswerSerializer, parse_query, usage_answer
from .models import BUSINESSES, DURATION_FIELDS, DailyUsage

COLUMNS = {column: name for name, column in DURATION_FIELDS.items()}  # our column -> Agora's field


class UsageView(APIView):
    permission_classes = [module_permission("usage", "view")]
    metadata_class = None

    @extend_schema(
        tags=["Agora-compatible: usage"],
        summary="Daily usage of a project",
        parameters=[
            OpenApiParameter("project_id", str, required=True, description="The project ID."),
            OpenApiParameter("from_date", str, required=True, description="First day, YYYY-MM-DD (UTC)."),
            OpenApiParameter("to_date", str, required=True, description="Last day, YYYY-MM-DD; at most a year on."),
            OpenApiParameter("business", str, enum=list(BUSINESSES), default="default"),
        ],
        description="One entry per day of the range from the console's stored usage (what it pulled from its "
        'upstream), zeros for days without usage. Needs usage "view".',
        responses={200: UsageAnswerSerializer},
    )
    def get(self, request):
        try:
            query = parse_query(request.query_params)
        except QueryError as problem:
            return error(problem.message, problem.status)
        project = restrict(Project, request.membership).filter(project_id=query.project_id).first()
        if project is None:
            return error("project not exist", 404)
        rows = DailyUsage.objects.filter(
            project=project, business=query.business, date__range=(query.day_from, query.day_to)
        ).values("date", *COLUMNS)
        by_day = {row["date"]: {COLUMNS[column]: row[column] for column in COLUMNS} for row in rows}
        return Response(usage_answer((day, by_day.get(day, {})) for day in query.days()))
