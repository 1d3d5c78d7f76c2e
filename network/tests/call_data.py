"""Calls for the call inspector's tests: a call with its sessions and metric series, as the analytics pull stores
them (Agora's shapes), with quality that is good unless a test asks for a bad stretch."""

import math
from datetime import UTC, datetime, timedelta

from network import agora_shapes
from network.models import Call, CallSession, MetricSeries, ReceivedNotice

START = datetime(2026, 12, 5, 14, 0, tzinfo=UTC)
STEP = agora_shapes.SAMPLE_SECONDS


def points(
    start: datetime, end: datetime, value: float, spikes: dict[int, float] | None = None, *, wobble: float = 0
) -> list:
    """[[unix seconds, value], ...] every 10 s; `spikes` maps a sample's index to another value; `wobble` makes
    the value swing by that share around itself (a repeatable wave, as bitrates do)."""
    first, last = int(start.timestamp()), int(end.timestamp())
    series = []
    for index, moment in enumerate(range(first, last + 1, STEP)):
        level = value * (1 + wobble * math.sin(index / 4) * math.cos(index / 11))
        series.append([moment, (spikes or {}).get(index, round(level, 1))])
    return series


def make_call(
    project,
    *,
    channel: str = "room-42",
    call_id: str = "65a1b2c3d4e5f60718293a4b",
    start: datetime = START,
    minutes: int = 30,
    uids: tuple[int, ...] = (1001, 1002, 1003),
    ended: bool = True,
    video_spike_for: int | None = 1002,
    metrics: bool = True,
) -> Call:
    """A call of `minutes` with one session per UID (all there the whole call); each user sends audio and video
    and receives from every other user. `video_spike_for`'s video freezes for a minute in the middle, as seen
    by every receiver, and its own upstream loss jumps to 12%."""
    end = start + timedelta(minutes=minutes)
    call = Call.objects.create(
        project=project,
        channel_name=channel,
        call_id=call_id,
        started_at=start,
        ended_at=end if ended else None,
        peak_users=len(uids),
        accumulated_users=len(uids),
        audio_freeze_rate=0.004,
        video_freeze_rate=0.071 if video_spike_for else 0.01,
        details_pulled_at=end if ended else None,
    )
    middle = minutes * 6 // 2  # the sample in the middle of the call
    spike = {middle + n: 1800.0 for n in range(6)}
    for number, uid in enumerate(uids):
        session = CallSession.objects.create(
            project=project,
            call=call,
            sid=f"{number:032X}",
            uid=uid,
            account=f"user-{uid}",
            network="Wi-Fi",
            platform=("Android", "iOS", "Web")[number % 3],
            region="Germany:Berlin",
            speaker=True,
            roles=["HOST"],
            sdk_version="4.3.0",
            device_type="Pixel 7 (Android 14)",
            joined_at=start + timedelta(seconds=5 * number),
            left_at=end - timedelta(seconds=5 * number) if ended else None,
            finished=ended,
            audio_freeze_rate=0.002,
            video_freeze_rate=0.09 if uid != video_spike_for and video_spike_for else 0.01,
        )
        if not metrics:
            continue
        series = [
            MetricSeries(session=session, mid=20003, peer_uid=0, points=points(start, end, 48, wobble=0.1)),
            MetricSeries(session=session, mid=20024, peer_uid=0, points=points(start, end, 900, wobble=0.3)),
            MetricSeries(session=session, mid=20015, peer_uid=0, points=points(start, end, 0.5)),
            MetricSeries(
                session=session,
                mid=20017,
                peer_uid=0,
                points=points(start, end, 0.8, {middle: 12.0} if uid == video_spike_for else None),
            ),
        ]
        for peer in uids:
            if peer == uid:
                continue
            freezes = spike if peer == video_spike_for else None
            series += [
                MetricSeries(session=session, mid=20004, peer_uid=peer, points=points(start, end, 46, wobble=0.1)),
                MetricSeries(session=session, mid=20009, peer_uid=peer, points=points(start, end, 850, wobble=0.3)),
                MetricSeries(session=session, mid=20016, peer_uid=peer, points=points(start, end, 1)),
                MetricSeries(session=session, mid=20011, peer_uid=peer, points=points(start, end, 0, freezes)),
                MetricSeries(session=session, mid=20005, peer_uid=peer, points=points(start, end, 0)),
            ]
        MetricSeries.objects.bulk_create(series)
    return call


def notice(project, event_type: int, uid: int, at: datetime, *, channel: str = "room-42", **payload) -> ReceivedNotice:
    """A received notification of the channel, as the webhook receiver stores it."""
    body = {"channelName": channel, "uid": uid, "clientSeq": int(at.timestamp() * 1000), "ts": int(at.timestamp())}
    return ReceivedNotice.objects.create(
        project=project,
        notice_id=f"n-{event_type}-{uid}-{int(at.timestamp())}",
        product_id=1,
        event_type=event_type,
        channel_name=channel,
        uid=uid,
        client_seq=body["clientSeq"],
        payload={**body, **payload},
        outcome="applied",
        first_received_at=at + timedelta(seconds=1),
        last_received_at=at + timedelta(seconds=1),
    )
