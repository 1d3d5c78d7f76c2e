"""A project's call quality over a range (the Quality tab): calls, peak concurrent users, joins, and the audio
and video freeze rates per hour or day, with the share of calls above Agora's thresholds.

How the figures are made, from what the console stores:
- Calls: those that started in the range (a call is counted in the hour or day it started).
- Peak concurrent users: the most users in the project's calls at one moment, from the sessions the analytics
  pull brought (a sweep over joins and leaves in SQL). Calls known from webhooks only have no sessions.
- Freeze rates: the calls' own rates (Agora's, per call), averaged with each call weighted by its length
  times its users, a stand-in for Agora's denominator (the time of every stream every user received).
- Joins: the sessions that started in the range. Failed join attempts never reach the console: Agora's call
  analytics lists the users who joined, not the attempts that failed, so no join success rate is shown.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import Count, F, FloatField, Func, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncDay, TruncHour

from projects.models import Project

from . import agora_shapes
from .models import Call, CallSession

RANGES = {  # key -> (label, length, bucket seconds)
    "24h": ("Last 24 hours", timedelta(hours=24), 3600),
    "7d": ("Last 7 days", timedelta(days=7), 86400),
    "30d": ("Last 30 days", timedelta(days=30), 86400),
}
DEFAULT_RANGE = "24h"
LONGEST_CALL = timedelta(days=1)  # sessions of calls that started this long before the range still count


class EpochSeconds(Func):
    """A datetime column as Unix seconds (float), on PostgreSQL and SQLite."""

    output_field = FloatField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="EXTRACT(EPOCH FROM %(expressions)s)", **extra)

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(
            compiler, connection, template="((julianday(%(expressions)s) - 2440587.5) * 86400.0)", **extra
        )


@dataclass
class Bucket:
    start: datetime
    calls: int = 0
    peak_users: int = 0
    audio_rate: float | None = None
    video_rate: float | None = None
    audio_bad: int = 0
    video_bad: int = 0


@dataclass
class Summary:
    key: str
    start: datetime
    end: datetime
    bucket_seconds: int
    buckets: list[Bucket] = field(default_factory=list)
    calls: int = 0
    in_progress: int = 0
    rated: int = 0  # calls with freeze rates (pulled from Agora Analytics)
    audio_bad: int = 0
    video_bad: int = 0
    audio_rate: float | None = None
    video_rate: float | None = None
    peak_users: int = 0
    joins: int = 0

    @property
    def label(self) -> str:
        return RANGES[self.key][0]

    @property
    def daily(self) -> bool:
        return self.bucket_seconds >= 86400

    def share(self, count: int) -> float | None:
        return count / self.rated if self.rated else None


def range_key(raw: object) -> str:
    return raw if isinstance(raw, str) and raw in RANGES else DEFAULT_RANGE


def summary(project: Project, key: str, now: datetime) -> Summary:
    label, length, bucket_seconds = RANGES[key]
    end = now.astimezone(UTC)
    start = _floor(end - length, bucket_seconds)
    result = Summary(key, start, end, bucket_seconds)
    by_start = {}
    moment = start
    while moment < end:
        by_start[moment] = Bucket(moment)
        moment += timedelta(seconds=bucket_seconds)
    result.buckets = list(by_start.values())
    _call_figures(project, result, by_start)
    _concurrency(project, result, by_start)
    result.joins = CallSession.objects.filter(
        call__project=project,
        call__started_at__gte=start - LONGEST_CALL,
        call__started_at__lt=end,
        joined_at__gte=start,
        joined_at__lt=end,
    ).count()
    return result


def _floor(moment: datetime, seconds: int) -> datetime:
    stamp = int(moment.timestamp())
    return datetime.fromtimestamp(stamp - stamp % seconds, UTC)


def _call_figures(project: Project, result: Summary, by_start: dict[datetime, Bucket]) -> None:
    truncate = TruncDay if result.daily else TruncHour
    length = EpochSeconds(Coalesce("ended_at", Value(result.end))) - EpochSeconds("started_at")
    weight = length * Coalesce(F("accumulated_users"), Value(1.0), output_field=FloatField())
    audio, video = Q(audio_freeze_rate__isnull=False), Q(video_freeze_rate__isnull=False)
    rows = (
        Call.objects.filter(project=project, started_at__gte=result.start, started_at__lt=result.end)
        .annotate(bucket=truncate("started_at", tzinfo=UTC))
        .values("bucket")
        .annotate(
            calls=Count("id"),
            in_progress=Count("id", filter=Q(ended_at__isnull=True)),
            rated=Count("id", filter=audio | video),
            audio_bad=Count("id", filter=Q(audio_freeze_rate__gt=agora_shapes.AUDIO_FREEZE_BAD)),
            video_bad=Count("id", filter=Q(video_freeze_rate__gt=agora_shapes.VIDEO_FREEZE_BAD)),
            audio_sum=Sum(F("audio_freeze_rate") * weight, filter=audio, output_field=FloatField()),
            audio_weight=Sum(weight, filter=audio, output_field=FloatField()),
            video_sum=Sum(F("video_freeze_rate") * weight, filter=video, output_field=FloatField()),
            video_weight=Sum(weight, filter=video, output_field=FloatField()),
        )
        .order_by("bucket")
    )
    sums = {"audio_sum": 0.0, "audio_weight": 0.0, "video_sum": 0.0, "video_weight": 0.0}
    for row in rows:
        bucket = by_start.get(row["bucket"].astimezone(UTC)) if row["bucket"] else None
        for name in ("calls", "in_progress", "rated", "audio_bad", "video_bad"):
            setattr(result, name, getattr(result, name) + row[name])
        for name in sums:
            sums[name] += row[name] or 0
        if bucket is None:
            continue
        bucket.calls, bucket.audio_bad, bucket.video_bad = row["calls"], row["audio_bad"], row["video_bad"]
        bucket.audio_rate = _rate(row["audio_sum"], row["audio_weight"])
        bucket.video_rate = _rate(row["video_sum"], row["video_weight"])
    result.audio_rate = _rate(sums["audio_sum"], sums["audio_weight"])
    result.video_rate = _rate(sums["video_sum"], sums["video_weight"])


def _rate(total: float | None, weight: float | None) -> float | None:
    return total / weight if total is not None and weight else None


def _epoch_sql(column: str) -> str:
    if connection.vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM {column})"
    return f"((julianday({column}) - 2440587.5) * 86400.0)"


def _bucket_sql(expression: str) -> str:
    """The whole part of a non-negative number (PostgreSQL's CAST rounds; SQLite's truncates)."""
    if connection.vendor == "postgresql":
        return f"CAST(FLOOR({expression}) AS INTEGER)"
    return f"CAST({expression} AS INTEGER)"


# The most users at once in each bucket: every join adds one, every leave takes one away; the running sum in
# time order (leaves before joins at the same second) is the number of users in the project's calls then.
# Users who joined before the range count from its start.
_CONCURRENCY = """
WITH sessions AS (
    SELECT s.joined_at, s.left_at FROM {session} s JOIN {call} c ON c.id = s.call_id
    WHERE c.project_id = %s AND c.started_at >= %s AND c.started_at < %s
      AND s.joined_at < %s AND (s.left_at IS NULL OR s.left_at > %s)
), changes AS (
    SELECT {joined} AS moment, 1 AS change FROM sessions
    UNION ALL
    SELECT {left}, -1 FROM sessions WHERE left_at IS NOT NULL AND left_at < %s
), running AS (
    SELECT moment, change, SUM(change) OVER (ORDER BY moment, change ROWS UNBOUNDED PRECEDING) AS users
    FROM changes
)
SELECT {bucket} AS bucket, MAX(users),
       SUM(change)
FROM running GROUP BY 1
"""


def _concurrency(project: Project, result: Summary, by_start: dict[datetime, Bucket]) -> None:
    sql = _CONCURRENCY.format(
        session=CallSession._meta.db_table,
        call=Call._meta.db_table,
        joined=_epoch_sql("joined_at"),
        left=_epoch_sql("left_at"),
        bucket=_bucket_sql("(CASE WHEN moment < %s THEN %s ELSE moment END - %s) / %s"),
    )
    adapt = connection.ops.adapt_datetimefield_value
    start, end = result.start, result.end
    first = start.timestamp()
    params = [project.pk, adapt(start - LONGEST_CALL), adapt(end), adapt(end), adapt(start), adapt(end)]
    params += [first, first, first, result.bucket_seconds]
    buckets = list(by_start.values())
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    peaks, changes = [0] * len(buckets), [0] * len(buckets)
    for index, users, change in rows:
        if index is not None and 0 <= int(index) < len(buckets):
            peaks[int(index)] = int(users or 0)
            changes[int(index)] = int(change or 0)
    # A bucket where nobody joined or left still holds whoever was in: the level carried over from before.
    level = 0
    for index, bucket in enumerate(buckets):
        bucket.peak_users = max(peaks[index], level)
        level += changes[index]
    result.peak_users = max((bucket.peak_users for bucket in buckets), default=0)
