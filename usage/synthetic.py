"""Deterministic synthetic usage for the sandbox upstream: a function of (project id, date, business).

Weekdays are busier than weekends, usage grows slowly over time, each project has its own scale and mix
of audio and video tiers, and a few days are empty. Today's figures grow through the day, as a real
upstream's do ("the current day is still changing").
"""

import hashlib
import random
from datetime import UTC, date, datetime

EPOCH = date(2024, 1, 1)
TIER_SHARES = (  # audio, HD, Full HD, 2K, 2K+, legacy HD+
    ("durationAudioAll", 0.55),
    ("durationVideoHd", 0.28),
    ("durationVideo1080P", 0.11),
    ("durationVideo2K", 0.04),
    ("durationVideo4K", 0.015),
    ("durationVideoHdp", 0.005),
)
BUSINESS_SCALE = {"default": 1.0, "cloudRecording": 0.08, "recording": 0.03, "transcodeDuration": 0.02, "miniapp": 0.0}


def _rng(*parts) -> random.Random:
    digest = hashlib.sha256(":".join(str(part) for part in parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def usage_for_day(project_id: str, day: date, business: str = "default", now: datetime | None = None) -> dict:
    """Seconds per upstream duration field for one project, day and business."""
    zero = {name: 0 for name, _ in TIER_SHARES}
    scale = BUSINESS_SCALE.get(business, 0.0)
    rng = _rng(project_id, day.isoformat())
    if scale == 0 or rng.random() < 0.05:  # some days nobody calls
        return zero
    profile = _rng(project_id)
    base = profile.uniform(20_000, 400_000)  # this project's typical daily seconds
    video_bias = profile.uniform(0.4, 1.6)
    growth = 1 + max((day - EPOCH).days, 0) * 0.001
    rhythm = 0.45 if day.weekday() >= 5 else 1.0
    total = base * growth * rhythm * rng.uniform(0.75, 1.25) * scale
    now = now or datetime.now(UTC)
    if day == now.date():
        total *= (now.hour * 3600 + now.minute * 60 + now.second) / 86_400
    elif day > now.date():
        return zero
    seconds = {}
    for name, share in TIER_SHARES:
        weight = share if name == "durationAudioAll" else share * video_bias
        seconds[name] = int(total * weight * rng.uniform(0.8, 1.2))
    return seconds
