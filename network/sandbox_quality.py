"""The call quality of the sandbox network: drawn, never stored. Pure functions, no database.

Every session has a seed. From it come the session's network profile (good, fair or poor) and its bad
stretches: moments of upstream packet loss, downstream congestion or an overloaded device. Every point of
every metric (agora_shapes.METRICS, one point per agora_shapes.SAMPLE_SECONDS) is a function of the seeds and
stretches of the sessions involved and of the point's time, so the same question always gets the same answer,
and a session still in the call simply has more points as time passes.

Freeze rates follow Agora's definition from the very same points: a receiver's rate is the freeze time of
all the streams it received (one per sender, while both were in the call and the sender published) over
their duration; a call's rate adds the receivers' freeze times and durations (reference section 1.1). So the
analytics answers (call lists, sessions) always agree with the metrics.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from random import Random

from . import agora_shapes

SAMPLE = agora_shapes.SAMPLE_SECONDS
SAMPLE_MS = SAMPLE * 1000
_MASK = 2**64 - 1

# Kinds of bad stretch: what they do to whom.
UPLINK = "uplink"  # the user's upstream loses packets: everyone receiving its streams suffers
DOWNLINK = "downlink"  # the user's downstream is congested: everything it receives suffers
DEVICE = "device"  # the device is overloaded: scheduling delay, rendering freezes, lower sending bitrate
SENDING_TROUBLE = (UPLINK,)
RECEIVING_TROUBLE = (DOWNLINK, DEVICE)

# The metrics (agora_shapes.METRICS mids)
AUDIO_SENT, VIDEO_SENT, AUDIO_UP_LOSS, VIDEO_UP_LOSS, ROUTER_RTT, SCHEDULING = 20003, 20024, 20015, 20017, 20022, 20021
AUDIO_RECEIVED, VIDEO_RECEIVED, AUDIO_LOSS, VIDEO_LOSS = 20004, 20009, 20016, 20018
AUDIO_FREEZE, VIDEO_FREEZE = 20005, 20011
PUBLISHING_METRICS = (AUDIO_SENT, VIDEO_SENT, AUDIO_UP_LOSS, VIDEO_UP_LOSS)
DEVICE_METRICS = (ROUTER_RTT, SCHEDULING)
RECEIVING_METRICS = (AUDIO_RECEIVED, VIDEO_RECEIVED, AUDIO_LOSS, VIDEO_LOSS, AUDIO_FREEZE, VIDEO_FREEZE)
assert set(PUBLISHING_METRICS + DEVICE_METRICS + RECEIVING_METRICS) == set(agora_shapes.METRICS)


@dataclass(frozen=True)
class Profile:
    name: str
    stretches_per_hour: float
    stretch_seconds: tuple[int, int]
    severity: tuple[float, float]  # the share of a sample a stretch spoils, roughly


GOOD = Profile("good", 1.0, (10, 40), (0.15, 0.4))
FAIR = Profile("fair", 4.0, (20, 90), (0.25, 0.6))
POOR = Profile("poor", 9.0, (40, 180), (0.45, 0.9))
PROFILE_BUCKETS = 20  # a seed's profile is its remainder modulo 20: 14 in 20 good, 4 fair, 2 poor
_FIRST_BUCKET = {GOOD.name: 0, FAIR.name: 14, POOR.name: 18}


def profile_of(seed: int) -> Profile:
    bucket = seed % PROFILE_BUCKETS
    return GOOD if bucket < 14 else FAIR if bucket < 18 else POOR


def seed_with_profile(seed: int, profile: Profile) -> int:
    """`seed` moved to the nearest seed of that profile (the simulation's troubled users)."""
    return seed - seed % PROFILE_BUCKETS + _FIRST_BUCKET[profile.name]


def unit(*keys: int) -> float:
    """A number in [0, 1) that depends only on `keys` (a 64-bit mix of each): the noise of one point."""
    mixed = 0x9E3779B97F4A7C15
    for key in keys:
        mixed = ((mixed ^ (key & _MASK)) * 0xBF58476D1CE4E5B9) & _MASK
        mixed ^= mixed >> 29
        mixed = (mixed * 0x94D049BB133111EB) & _MASK
        mixed ^= mixed >> 32
    return (mixed >> 11) / float(1 << 53)


# Sessions and their stretches --------------------------------------------------------------------------


@dataclass(frozen=True)
class Presence:
    """A session as the quality model sees it: [start, end) in Unix seconds (end: when it left, or now), and
    the spans during which it published (host or communication user)."""

    sid: str
    uid: int
    seed: int
    start: int
    end: int
    publishing: tuple[tuple[int, int], ...]
    network: str = "Wi-Fi"


@dataclass(frozen=True)
class Stretch:
    start: int
    end: int
    kind: str
    severity: float

    def covers(self, ts: int) -> bool:
        return self.start <= ts < self.end


@lru_cache(maxsize=8192)
def _stretches(seed: int, start: int, end: int) -> tuple[Stretch, ...]:
    """The seed's stretches from `start` on, cut at `end`: those up to any time are the same whatever `end`."""
    profile = profile_of(seed)
    draw = Random(seed)
    found: list[Stretch] = []
    moment = float(start)
    while True:
        moment += draw.expovariate(profile.stretches_per_hour / 3600)
        if moment >= end:
            return tuple(found)
        length = draw.randint(*profile.stretch_seconds)
        kind = draw.choices((UPLINK, DOWNLINK, DEVICE), weights=(40, 45, 15))[0]
        severity = draw.uniform(*profile.severity)
        found.append(Stretch(int(moment), int(moment) + length, kind, severity))
        moment += length


def stretches(presence: Presence) -> tuple[Stretch, ...]:
    return _stretches(presence.seed, presence.start, presence.end)


def trouble(presence: Presence, ts: int, kinds: tuple[str, ...]) -> float:
    """The worst severity of the presence's stretches of these kinds at `ts` (0: none)."""
    return max((s.severity for s in stretches(presence) if s.kind in kinds and s.covers(ts)), default=0.0)


def grid(start: int, end: int) -> range:
    """The sample times in [start, end): multiples of SAMPLE."""
    return range(-(-start // SAMPLE) * SAMPLE, end, SAMPLE)


def _clip(spans: Iterable[tuple[int, int]], start: int, end: int) -> Iterator[tuple[int, int]]:
    for low, high in spans:
        low, high = max(low, start), min(high, end)
        if low < high:
            yield low, high


def streams(receiver: Presence, sender: Presence) -> list[tuple[int, int]]:
    """When `receiver` received `sender`'s streams: both in the call, the sender publishing."""
    if receiver.sid == sender.sid or receiver.uid == sender.uid:
        return []
    return list(_clip(sender.publishing, receiver.start, receiver.end))


# The points ---------------------------------------------------------------------------------------------


def _base(presence: Presence, what: int, low: float, high: float) -> float:
    return low + (high - low) * unit(presence.seed, what)


def freeze_ms(receiver: Presence, sender: Presence, ts: int, *, audio: bool) -> int:
    """Milliseconds of the SAMPLE before `ts` during which `receiver` saw `sender`'s audio (video) frozen."""
    severity = max(trouble(receiver, ts, RECEIVING_TROUBLE), trouble(sender, ts, SENDING_TROUBLE))
    if not severity:
        return 0
    noise = unit(receiver.seed, sender.seed, ts, AUDIO_FREEZE if audio else VIDEO_FREEZE)
    share = severity * (0.5 * (0.4 + 1.2 * noise) if audio else 0.6 + 0.8 * noise)
    return min(SAMPLE_MS, int(SAMPLE_MS * share))


def upstream_loss(presence: Presence, ts: int, mid: int) -> float:
    uplink = trouble(presence, ts, SENDING_TROUBLE)
    noise = unit(presence.seed, ts, mid)
    if uplink:
        return round(min(100.0, 4 + 26 * uplink * (0.5 + noise)), 1)
    return round(1.2 * noise * noise, 2)


def sent_bitrate(presence: Presence, ts: int, mid: int) -> float:
    uplink = trouble(presence, ts, SENDING_TROUBLE)
    noise = unit(presence.seed, ts, mid)
    if mid == AUDIO_SENT:
        return round(_base(presence, mid, 24, 48) * (1 - 0.35 * uplink) * (0.92 + 0.16 * noise), 1)
    device = trouble(presence, ts, (DEVICE,))
    return round(_base(presence, mid, 400, 1600) * (1 - 0.6 * max(uplink, device / 2)) * (0.85 + 0.3 * noise), 1)


def router_rtt(presence: Presence, ts: int) -> float:
    low, high = {"LAN": (1, 3), "Wi-Fi": (3, 25)}.get(presence.network, (15, 60))
    noise = unit(presence.seed, ts, ROUTER_RTT)
    downlink = trouble(presence, ts, (DOWNLINK,))
    base = _base(presence, ROUTER_RTT, low, high) * (0.8 + 0.4 * noise)
    return round(base + (250 + 700 * downlink * noise if downlink else 0), 1)


def scheduling_delay(presence: Presence, ts: int) -> float:
    noise = unit(presence.seed, ts, SCHEDULING)
    device = trouble(presence, ts, (DEVICE,))
    return round(90 + 220 * device * noise if device else 6 + 22 * noise, 1)


def received_loss(receiver: Presence, sender: Presence, ts: int, mid: int) -> float:
    upstream = upstream_loss(sender, ts, AUDIO_UP_LOSS if mid == AUDIO_LOSS else VIDEO_UP_LOSS)
    downlink = trouble(receiver, ts, (DOWNLINK,))
    noise = unit(receiver.seed, sender.seed, ts, mid)
    downstream = 3 + 20 * downlink * (0.5 + noise) if downlink else 0.5 * noise * noise
    return round(min(100.0, upstream + downstream), 1)


def received_bitrate(receiver: Presence, sender: Presence, ts: int, mid: int) -> float:
    audio = mid == AUDIO_RECEIVED
    sent = sent_bitrate(sender, ts, AUDIO_SENT if audio else VIDEO_SENT)
    loss = received_loss(receiver, sender, ts, AUDIO_LOSS if audio else VIDEO_LOSS)
    frozen = freeze_ms(receiver, sender, ts, audio=audio) / SAMPLE_MS
    return round(max(0.0, sent * (1 - loss / 100) * (1 - frozen)), 1)


def own_point(presence: Presence, mid: int, ts: int) -> float:
    """A point of one of the session's own metrics (peer_uid 0)."""
    if mid in (AUDIO_UP_LOSS, VIDEO_UP_LOSS):
        return upstream_loss(presence, ts, mid)
    if mid in (AUDIO_SENT, VIDEO_SENT):
        return sent_bitrate(presence, ts, mid)
    if mid == ROUTER_RTT:
        return router_rtt(presence, ts)
    return scheduling_delay(presence, ts)


def peer_point(receiver: Presence, sender: Presence, mid: int, ts: int) -> float:
    """A point of a metric of what `receiver` got from `sender`."""
    if mid in (AUDIO_FREEZE, VIDEO_FREEZE):
        return freeze_ms(receiver, sender, ts, audio=mid == AUDIO_FREEZE)
    if mid in (AUDIO_LOSS, VIDEO_LOSS):
        return received_loss(receiver, sender, ts, mid)
    return received_bitrate(receiver, sender, ts, mid)


Series = tuple[int, int, list[list[float]]]  # (mid, peer uid, [[unix seconds, value], ...])


def series(presence: Presence, others: Iterable[Presence], start: int, end: int) -> list[Series]:
    """The session's metrics between `start` and `end`: its own (sending while it published, its device all
    along), then what it received from each sender, in metric order."""
    found: list[Series] = []
    publishing = list(_clip(presence.publishing, start, end))
    present = list(_clip([(presence.start, presence.end)], start, end))
    for mid in PUBLISHING_METRICS + DEVICE_METRICS:
        spans = publishing if mid in PUBLISHING_METRICS else present
        points = [[ts, own_point(presence, mid, ts)] for low, high in spans for ts in grid(low, high)]
        if points:
            found.append((mid, 0, points))
    for sender in sorted(others, key=lambda other: (other.uid, other.start)):
        spans = list(_clip(streams(presence, sender), start, end))
        for mid in RECEIVING_METRICS:
            points = [[ts, peer_point(presence, sender, mid, ts)] for low, high in spans for ts in grid(low, high)]
            if points:
                found.append((mid, sender.uid, points))
    return found


# Freeze rates -------------------------------------------------------------------------------------------


@dataclass
class FreezeTotals:
    """Freeze time and stream time of one or more receivers: the rates are their quotients."""

    audio_ms: int = 0
    video_ms: int = 0
    stream_samples: int = 0

    def add(self, other: "FreezeTotals") -> None:
        self.audio_ms += other.audio_ms
        self.video_ms += other.video_ms
        self.stream_samples += other.stream_samples

    @property
    def audio_rate(self) -> float:
        return self.audio_ms / (self.stream_samples * SAMPLE_MS) if self.stream_samples else 0.0

    @property
    def video_rate(self) -> float:
        return self.video_ms / (self.stream_samples * SAMPLE_MS) if self.stream_samples else 0.0


def _troubled_samples(receiver: Presence, sender: Presence, start: int, end: int) -> set[int]:
    """The sample times in [start, end) where a stretch may freeze what `receiver` gets from `sender`: every
    other sample's freeze time is 0, so the totals need only these."""
    found: set[int] = set()
    for owner, kinds in ((receiver, RECEIVING_TROUBLE), (sender, SENDING_TROUBLE)):
        for stretch in stretches(owner):
            if stretch.kind in kinds and stretch.start < end and stretch.end > start:
                found.update(grid(max(stretch.start, start), min(stretch.end, end)))
    return found


def receiver_totals(receiver: Presence, others: Iterable[Presence]) -> FreezeTotals:
    """The freeze totals of everything `receiver` received in its session (the sum of its freeze series)."""
    totals = FreezeTotals()
    for sender in others:
        for low, high in streams(receiver, sender):
            totals.stream_samples += len(grid(low, high))
            for ts in _troubled_samples(receiver, sender, low, high):
                totals.audio_ms += freeze_ms(receiver, sender, ts, audio=True)
                totals.video_ms += freeze_ms(receiver, sender, ts, audio=False)
    return totals


def call_totals(presences: list[Presence]) -> tuple[FreezeTotals, dict[str, FreezeTotals]]:
    """The call's totals and each session's (by sid)."""
    call = FreezeTotals()
    by_session = {}
    for presence in presences:
        totals = receiver_totals(presence, presences)
        by_session[presence.sid] = totals
        call.add(totals)
    return call, by_session


def peak_users(presences: Iterable[Presence]) -> int:
    """The most sessions in the call at the same moment (PCU)."""
    changes = sorted([(p.start, 1) for p in presences] + [(p.end, -1) for p in presences])
    peak = current = 0
    for _, change in changes:
        current += change
        peak = max(peak, current)
    return peak
