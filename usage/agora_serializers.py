"""Agora's `/dev/v3/usage` (reference section 3), defined once: the question (query parameters, checked by
`parse_query`) and the answer (`UsageAnswerSerializer`), shared by the sandbox upstream and the console's own
Agora-compatible API (usage/agora_api.py). The upstream client reads answers with the same field names
(`DURATION_FIELDS`) and date form.

    {"meta": {"durationAudioAll": {"en": "Total Audio Duration", "unit": "second"}, ...},
     "usages": [{"date": "2021-10-13T00:00:00.000Z", "usage": {"durationAudioAll": 779, ...}}, ...]}

One entry per day, durations in seconds, fields in tier order (audio, HD, Full HD, 2K, 2K+, legacy HD+).
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from console.api import Serializer
from console.refusals import RuleViolation
from projects.converters import ProjectIdConverter

from .models import BUSINESSES, DURATION_FIELDS

MAX_SPAN = timedelta(days=366)  # "a query spans at most one year": a leap year's 366 days included
DATE_FORMAT = "%Y-%m-%dT00:00:00.000Z"
META = {
    "durationAudioAll": {"en": "Total Audio Duration", "unit": "second"},
    "durationVideoHd": {"en": "Total HD Video Duration", "unit": "second"},
    "durationVideo1080P": {"en": "Total Full HD Video Duration", "unit": "second"},
    "durationVideo2K": {"en": "Total 2K Video Duration", "unit": "second"},
    "durationVideo4K": {"en": "Total 2K+ Video Duration", "unit": "second"},
    "durationVideoHdp": {"en": "Total HD+ Video Duration", "unit": "second"},
}
assert list(META) == list(DURATION_FIELDS)


# The question ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UsageQuery:
    project_id: str
    day_from: date
    day_to: date
    business: str

    def days(self) -> list[date]:
        return [self.day_from + timedelta(days=n) for n in range((self.day_to - self.day_from).days + 1)]


class QueryError(RuleViolation):
    """A question Agora refuses: the message for {"message": ...} and the status code."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


def parse_day(value: str | None, name: str) -> date:
    # Exactly YYYY-MM-DD, as the real API takes: date.fromisoformat alone also reads 20240101 and 2024-W01-1.
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value or ""):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise QueryError(f"{name} must be a date in the form YYYY-MM-DD") from None


def parse_query(params: Mapping) -> UsageQuery:
    """`project_id`, `from_date`, `to_date` (YYYY-MM-DD, at most a year apart) and `business` (default
    "default"), or QueryError. A project id that cannot exist is 404 "project not exist", like an unknown one."""
    day_from = parse_day(params.get("from_date"), "from_date")
    day_to = parse_day(params.get("to_date"), "to_date")
    project_id = params.get("project_id", "")
    business = params.get("business", "default")
    if not project_id:
        raise QueryError("project_id is required")
    if not re.fullmatch(ProjectIdConverter.regex, project_id):
        raise QueryError("project not exist", 404)
    if business not in BUSINESSES:
        raise QueryError(f"business must be one of {', '.join(BUSINESSES)}")
    if day_from > day_to:
        raise QueryError("from_date must not be after to_date")
    if day_to - day_from >= MAX_SPAN:
        raise QueryError("The query spans more than one year")
    return UsageQuery(project_id, day_from, day_to, business)


# The answer -----------------------------------------------------------------------------------------


class DaySecondsSerializer(Serializer):
    """Seconds per duration field of one day, under Agora's names (which are not Python identifiers we
    would declare as attributes), in tier order."""

    def get_fields(self):
        return {name: serializers.IntegerField(min_value=0, help_text=META[name]["en"]) for name in DURATION_FIELDS}


class UsageEntrySerializer(Serializer):
    date = serializers.DateField(format=DATE_FORMAT, help_text="The UTC day, as 2021-10-13T00:00:00.000Z.")
    usage = DaySecondsSerializer()


class UsageAnswerSerializer(Serializer):
    meta = serializers.SerializerMethodField()
    usages = UsageEntrySerializer(many=True)

    @extend_schema_field(
        serializers.DictField(
            child=serializers.DictField(child=serializers.CharField()),
            help_text='Per duration field: {"en": its English name, "unit": "second"}.',
        )
    )
    def get_meta(self, answer) -> dict:
        return META


def usage_answer(days: Iterable[tuple[date, Mapping[str, int]]]) -> dict:
    """The answer for (day, {duration field: seconds}) pairs, in the order given; missing fields are 0."""
    entries = [
        {"date": day, "usage": {name: seconds.get(name, 0) for name in DURATION_FIELDS}} for day, seconds in days
    ]
    return UsageAnswerSerializer({"usages": entries}).data
