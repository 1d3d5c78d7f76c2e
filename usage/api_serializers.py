"""Shapes of the native API for usage: daily rows as stored, and summaries in seconds and billed minutes."""

from datetime import timedelta

from rest_framework import serializers

from console.api import ModelSerializer, Serializer
from console.dates import month_start, utc_today

from .models import BUSINESSES, TIER_LABELS, DailyUsage
from .report import COLUMNS, TIERS, Row

MAX_DAYS = 731  # two years, a leap day included; as the usage page
GROUPINGS = ("day", "month", "project")


class DailyUsageSerializer(ModelSerializer):
    project = serializers.CharField(source="project.project_id", read_only=True, help_text="The project ID.")
    project_name = serializers.CharField(source="project.name", read_only=True)
    total_seconds = serializers.SerializerMethodField()

    class Meta:
        model = DailyUsage
        fields = ["project", "project_name", "date", "business", *COLUMNS, "total_seconds", "pulled_at"]
        read_only_fields = fields
        extra_kwargs = {column: {"help_text": f"{TIER_LABELS[column]}, seconds."} for column in COLUMNS}

    def get_total_seconds(self, row: DailyUsage) -> int:
        return sum(getattr(row, column) for column in COLUMNS)


# One number per usage column (seconds) or per billing tier (minutes), named as the daily rows' columns
# (built from the lists, so they never drift).
ColumnsSerializer = type(
    "UsageSeconds",
    (Serializer,),
    {column: serializers.IntegerField(help_text=TIER_LABELS[column]) for column in COLUMNS} | {"__module__": __name__},
)
TiersSerializer = type(
    "BillableMinutes",
    (Serializer,),
    {tier: serializers.IntegerField(help_text=TIER_LABELS[tier]) for tier in TIERS}
    | {"video_hd": serializers.IntegerField(help_text="Video HD, legacy HD+ included (billed as HD).")}
    | {"__module__": __name__},
)


class SummaryQuerySerializer(Serializer):
    date_from = serializers.DateField(required=False, help_text="First UTC day; default: the 1st of date_to's month.")
    date_to = serializers.DateField(required=False, help_text="Last UTC day, included; default: today.")
    business = serializers.ChoiceField(choices=BUSINESSES, default="default")
    project = serializers.ListField(
        child=serializers.CharField(max_length=16),
        required=False,
        help_text="Project IDs, repeatable (?project=a&project=b); default: every project the caller may see.",
    )
    group_by = serializers.ChoiceField(
        choices=GROUPINGS, required=False, help_text="Rows per day, per month, or per project; none: the total only."
    )

    def validate(self, data):
        day_to = data.get("date_to") or utc_today()
        day_from = data.get("date_from") or month_start(day_to)
        if day_from > day_to:
            raise serializers.ValidationError(f"date_from {day_from} is after date_to {day_to}.")
        if day_to - day_from >= timedelta(days=MAX_DAYS):
            raise serializers.ValidationError(f"A range covers at most {MAX_DAYS} days.")
        return {**data, "date_from": day_from, "date_to": day_to}


class ProjectRefSerializer(Serializer):
    project_id = serializers.CharField(max_length=16)
    name = serializers.CharField(max_length=255)


class UsageAmountSerializer(Serializer):
    """Seconds per usage column, and billable minutes per tier: each project's seconds of a tier on a day,
    divided by 60 and rounded up, then summed (legacy HD+ billed as HD)."""

    start = serializers.DateField(help_text="First day this amount covers.")
    end = serializers.DateField(help_text="Last day, included.")
    project = ProjectRefSerializer(allow_null=True, help_text="With group_by=project.")
    seconds = ColumnsSerializer()
    minutes = TiersSerializer()
    total_seconds = serializers.IntegerField()
    total_minutes = serializers.IntegerField(help_text="The sum of the tiers' minutes.")

    def to_representation(self, row: Row) -> dict:
        project = row.project
        return {
            "start": row.start.isoformat(),
            "end": row.end.isoformat(),
            "project": {"project_id": project.project_id, "name": project.name} if project else None,
            "seconds": dict(zip(COLUMNS, row.seconds, strict=True)),
            "minutes": dict(zip(TIERS, row.minutes, strict=True)),
            "total_seconds": row.total_seconds,
            "total_minutes": row.total_minutes,
        }


class UsageSummarySerializer(Serializer):
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    business = serializers.ChoiceField(choices=BUSINESSES)
    projects = serializers.ListField(
        child=serializers.CharField(max_length=16),
        help_text="The project IDs asked for; empty: every project the caller may see.",
    )
    group_by = serializers.ChoiceField(choices=GROUPINGS, allow_null=True)
    total = UsageAmountSerializer(help_text="The whole range: the sum of the groups, as the usage page's total row.")
    groups = UsageAmountSerializer(many=True, help_text="Per day or month (every period), or per project with usage.")
