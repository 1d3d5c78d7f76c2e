"""Freeze rates over a span of time, from the pulled receiver-side metrics (reference section 1.1): the
freeze time received within the span over the media time received within it. Each point of a freeze-time
series covers agora_shapes.SAMPLE_SECONDS of one received stream, so the media time is the number of points
times that interval ("by stream", as Agora counts it for users and calls)."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from projects.models import Project

from .agora_shapes import SAMPLE_SECONDS
from .models import MetricSeries

FREEZE_TIME_METRIC = {"video_freeze_rate": 20011, "audio_freeze_rate": 20005}


@dataclass(frozen=True)
class FreezeRate:
    freeze_seconds: float
    media_seconds: int

    @property
    def percent(self) -> float | None:
        """None when nothing was received in the span (no rate rather than 0%)."""
        return 100 * self.freeze_seconds / self.media_seconds if self.media_seconds else None


def freeze_rate(project: Project, metric: str, start: datetime, end: datetime) -> FreezeRate:
    """The project's audio or video freeze rate (`metric`: a FREEZE_TIME_METRIC key) over [start, end)."""
    first, last = start.timestamp(), end.timestamp()
    overlapping = Q(session__left_at__isnull=True) | Q(session__left_at__gt=start)
    series = MetricSeries.objects.filter(
        overlapping, session__project=project, session__joined_at__lt=end, mid=FREEZE_TIME_METRIC[metric]
    ).values_list("points", flat=True)
    frozen_ms, samples = 0.0, 0
    for points in series.iterator():
        for moment, value in points:
            if first <= moment < last:
                frozen_ms += min(max(float(value), 0.0), SAMPLE_SECONDS * 1000)
                samples += 1
    return FreezeRate(frozen_ms / 1000, samples * SAMPLE_SECONDS)
