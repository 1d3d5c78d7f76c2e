"""Reading calls: the questions of the call search (shared by the page, the native API and Agora's
/beta/analytics/call/lists), one call's users and key events, and its metrics in a time window.

Nothing here writes. Calls, their sessions and metric series are stored by the webhook receiver (presence.py:
a call opened by event 101, closed by 102) and by the analytics pull (Agora's call id, user counts, freeze
rates, sessions and metrics).

Decisions:
- The search matches a channel name or a call id exactly (both are case-sensitive at Agora), through the
  indexes (project, channel_name, -started_at) and (project, call_id); a substring search over a million calls
  could not answer in time.
- A call's duration runs to its end, or to now while it is in progress; its freeze rates are marked bad above
  agora_shapes.AUDIO_FREEZE_BAD / VIDEO_FREEZE_BAD (Agora's 3% and 5%).
- Counting matches stops at COUNT_CAP (Agora's `has_more`: narrow the search), so a wide range over many calls
  costs a bounded index scan, not a count of everything.
- A call known from webhooks only has no Agora call id; where an id is needed (the APIs) it is "console-<pk>"
  (CONSOLE_ID_PREFIX), stable for the row's life, accepted wherever a call id is.
"""

import gc
import math
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, cast

from django.core.paginator import Paginator
from django.db.models import F, Q, QuerySet
from django.http import Http404, QueryDict

from console.text import has_control_characters
from projects.models import Project

from . import agora_shapes, ncs
from .models import Call, CallSession, MetricSeries, ReceivedNotice

Params = QueryDict | Mapping[str, str]  # a request's GET, or a dict in tests and benches
COUNT_CAP = 10_000
CONSOLE_ID_PREFIX = "console-"
MAX_TEXT = 64  # a channel name (bytes) or a call id
MAX_MINUTES = 10**6  # about two years: any longer duration filter matches nothing anyway
MAX_USERS = 10**9
PRESETS = {  # the search's time ranges, ending now
    "1h": ("Last hour", timedelta(hours=1)),
    "24h": ("Last 24 hours", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "30d": ("Last 30 days", timedelta(days=30)),
}
DEFAULT_PRESET = "24h"
STATUSES = {"in_progress": "In progress", "ended": "Ended"}
MAX_CHOSEN = 20  # users whose metrics are charted at once, as Agora's call inspector allows
WINDOW = timedelta(hours=3)  # the longest stretch of a call charted at once, as Agora's
KEY_CALL_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


# The search -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallQuery:
    """What a search asks for; None or "" means "any"."""

    start: datetime
    end: datetime
    preset: str = DEFAULT_PRESET  # a key of PRESETS, or "custom"
    text: str = ""  # a channel name or a call id
    status: str = ""  # "", or a key of STATUSES
    min_minutes: int | None = None
    max_minutes: int | None = None
    min_users: int | None = None
    min_audio_freeze: float | None = None  # percent
    min_video_freeze: float | None = None

    @property
    def narrowed(self) -> bool:
        """Whether anything beyond the time range narrows the search."""
        numbers = (self.min_minutes, self.max_minutes, self.min_users, self.min_audio_freeze, self.min_video_freeze)
        return bool(self.text or self.status) or any(value is not None for value in numbers)


class QueryProblems(Exception):
    """Every problem found in a query, in words for people (the APIs answer the first)."""

    def __init__(self, problems: list[str]):
        super().__init__(problems[0])
        self.problems = problems


def parse_moment(raw: str) -> datetime:
    """A moment in UTC: 2026-12-05T14:30, with seconds, a fraction, "Z" or an offset; or a date alone. An offset's
    "+" that arrived as a space (a query string written by hand) is read as "+"."""
    text = re.sub(r"(\d{2}:\d{2}(:\d{2}(\.\d+)?)?) (\d{2}:?\d{2})$", r"\1+\4", raw.strip())  # "+" read as a space
    if not text.isascii() or len(text) > 40 or not re.fullmatch(r"\d{4}-\d{2}-\d{2}([T ][0-9:.+\-Z]+)?", text):
        raise ValueError(raw)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _number(params: Params, name: str, label: str, high: float, problems: list[str], *, whole: bool) -> Any:
    raw = str(params.get(name) or "").strip()
    if not raw:
        return None
    value: float | None
    try:
        value = int(raw) if whole else float(raw)
    except (ValueError, OverflowError):
        value = None
    if value is None or value != value or not 0 <= value <= high:  # value != value: NaN
        kind = "a whole number" if whole else "a number"
        problems.append(f"{label} must be {kind} from 0 to {high:,g}; {raw[:20]!r} was ignored.")
        return None
    return value


def parse_call_query(params: Params, now: datetime) -> tuple[CallQuery, list[str]]:
    """The search in `params` (a QueryDict or dict of text) and what was wrong with it. A value that is wrong is
    left out (the page shows the problems, the APIs refuse the query)."""
    problems: list[str] = []
    start, end, preset = _time_range(params, now, problems)
    text = str(params.get("q") or "").strip()
    if text and (has_control_characters(text) or len(text.encode()) > MAX_TEXT):
        problems.append(f"A channel name or call id is one line of at most {MAX_TEXT} bytes; the search ignored it.")
        text = ""
    status = str(params.get("status") or "")
    if status and status not in STATUSES:
        problems.append("Status is all, in_progress or ended; the search shows every call.")
        status = ""
    min_minutes = _number(params, "min_minutes", "Minimum duration", MAX_MINUTES, problems, whole=True)
    max_minutes = _number(params, "max_minutes", "Maximum duration", MAX_MINUTES, problems, whole=True)
    if min_minutes is not None and max_minutes is not None and min_minutes > max_minutes:
        problems.append("The minimum duration is above the maximum; they were swapped.")
        min_minutes, max_minutes = max_minutes, min_minutes
    query = CallQuery(
        start=start,
        end=end,
        preset=preset,
        text=text,
        status=status,
        min_minutes=min_minutes,
        max_minutes=max_minutes,
        min_users=_number(params, "min_users", "Users", MAX_USERS, problems, whole=True),
        min_audio_freeze=_number(params, "min_audio_freeze", "Audio freeze rate", 100, problems, whole=False),
        min_video_freeze=_number(params, "min_video_freeze", "Video freeze rate", 100, problems, whole=False),
    )
    return query, problems


def _time_range(params: Params, now: datetime, problems: list[str]) -> tuple[datetime, datetime, str]:
    """(start, end, preset): a preset ending now, or from/to (either may be left out)."""
    preset = str(params.get("range") or "")
    raw_from, raw_to = str(params.get("from") or ""), str(params.get("to") or "")
    if preset in PRESETS or not (raw_from or raw_to):
        if preset and preset not in PRESETS and preset != "custom":
            problems.append(f"Unknown time range {preset[:20]!r}; showing the last 24 hours.")
        preset = preset if preset in PRESETS else DEFAULT_PRESET
        return now - PRESETS[preset][1], now, preset
    start = end = None
    for raw, name in ((raw_from, "From"), (raw_to, "To")):
        if not raw:
            continue
        try:
            moment = parse_moment(raw)
        except (ValueError, OverflowError):
            problems.append(f"{name} must be a date and time such as 2026-12-05T14:30 (UTC); it was ignored.")
            continue
        if name == "From":
            start = moment
        else:
            end = moment
    end = end or now
    if start is None:
        try:
            start = end - PRESETS[DEFAULT_PRESET][1]
        except OverflowError:  # an end in the first day of year 1
            start = datetime.min.replace(tzinfo=UTC)
    if start > end:
        problems.append("From is after To; they were swapped.")
        start, end = end, start
    return start, end, "custom"


def search(project: Project, query: CallQuery, now: datetime) -> QuerySet[Call]:
    """The project's calls that started within the query's range and match it, newest first."""
    calls = Call.objects.filter(project=project, started_at__gte=query.start, started_at__lt=query.end)
    if query.text:
        calls = calls.filter(_named(project, query.text))
    if query.status == "in_progress":
        calls = calls.filter(ended_at__isnull=True)
    elif query.status == "ended":
        calls = calls.filter(ended_at__isnull=False)
    if query.min_minutes:
        least = timedelta(minutes=query.min_minutes)
        calls = calls.filter(
            Q(ended_at__isnull=False, ended_at__gte=F("started_at") + least)
            | Q(ended_at__isnull=True, started_at__lte=now - least)
        )
    if query.max_minutes is not None:
        most = timedelta(minutes=query.max_minutes)
        calls = calls.filter(
            Q(ended_at__isnull=False, ended_at__lte=F("started_at") + most)
            | Q(ended_at__isnull=True, started_at__gte=now - most)
        )
    if query.min_users:
        calls = calls.filter(accumulated_users__gte=query.min_users)
    if query.min_audio_freeze is not None:
        calls = calls.filter(audio_freeze_rate__gte=query.min_audio_freeze / 100)
    if query.min_video_freeze is not None:
        calls = calls.filter(video_freeze_rate__gte=query.min_video_freeze / 100)
    return calls.order_by("-started_at", "-pk")


def _named(project: Project, text: str) -> Q:
    """The call with that id when the project has one, else the calls of the channel of that name: one indexed
    condition each, where an OR of both would make the database read every call of the range."""
    with_id = Call.objects.filter(project=project).exclude(call_id="")  # the partial unique index's own condition
    found = list(with_id.filter(call_id=text).values_list("pk", flat=True)[:1])
    found += Call.objects.filter(_console_id(text), project=project).values_list("pk", flat=True)[:1]
    return Q(pk__in=found) if found else Q(channel_name=text)


def _console_id(text: str) -> Q:
    """Calls known from webhooks only, by the id the APIs give them ("console-<pk>")."""
    number = text.removeprefix(CONSOLE_ID_PREFIX)
    if text.startswith(CONSOLE_ID_PREFIX) and number.isascii() and number.isdigit() and len(number) < 19:
        return Q(pk=int(number), call_id="")
    return Q(pk__in=[])


class CappedPaginator(Paginator):
    """Counts at most COUNT_CAP + 1 rows: beyond that the page says "more than 10,000"."""

    cap = COUNT_CAP

    @cached_property
    def count(self) -> int:
        calls = cast(QuerySet, self.object_list)  # always a queryset here
        return calls.order_by()[: self.cap + 1].count()  # any order: the planner picks the index

    @property
    def capped(self) -> bool:
        return self.count > self.cap


# One call ---------------------------------------------------------------------------------------------


def public_id(call: Call) -> str:
    """The call's id in the APIs: Agora's, or the console's own for a call known from webhooks only."""
    return call.call_id or f"{CONSOLE_ID_PREFIX}{call.pk}"


def find_call(calls: QuerySet[Call], key: str) -> Call:
    """The call named `key` among `calls`: Agora's call id, "console-<pk>", or the console's own number."""
    key = str(key)
    if not KEY_CALL_ID.fullmatch(key):
        raise Http404("No such call.")
    found = calls.filter(call_id=key).first()
    if found is None:
        found = calls.filter(_console_id(key)).first()
    if found is None and key.isdigit() and len(key) < 19:
        found = calls.filter(pk=int(key)).first()
    if found is None:
        raise Http404("No such call.")
    return found


def call_end(call: Call, now: datetime) -> datetime:
    """When the call ended, or now while it is in progress (never before it started)."""
    return call.ended_at or max(now, call.started_at)


def duration(call: Call, now: datetime) -> timedelta:
    return call_end(call, now) - call.started_at


def bad_audio(rate: float | None) -> bool:
    return rate is not None and rate > agora_shapes.AUDIO_FREEZE_BAD


def bad_video(rate: float | None) -> bool:
    return rate is not None and rate > agora_shapes.VIDEO_FREEZE_BAD


def percent(rate: float | None) -> str:
    """A fraction as the pages show it: 0.0558 is "5.58%"; unknown is ""."""
    return "" if rate is None else f"{rate * 100:.2f}%"


# The users of a call ----------------------------------------------------------------------------------


@dataclass
class CallUser:
    """One UID of a call, over all its sessions (a user who rejoins has several)."""

    uid: int
    sessions: list[CallSession]
    first_join: datetime
    last_leave: datetime | None  # None while in the call
    in_call: timedelta  # the sum of the sessions (gaps left out), Agora's "in-call duration"
    roles: list[str]
    audio_freeze_rate: float | None  # the worst of its sessions
    video_freeze_rate: float | None
    presence: list[tuple[float, float]] = field(default_factory=list)  # (x, width) within 0..1000

    @property
    def latest(self) -> CallSession:
        return self.sessions[-1]

    @property
    def freezing(self) -> bool:
        return bad_audio(self.audio_freeze_rate) or bad_video(self.video_freeze_rate)

    @property
    def worst_freeze(self) -> float:
        return max(self.audio_freeze_rate or 0, self.video_freeze_rate or 0)


def _worst(values: list[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return max(known) if known else None


def call_users(call: Call, now: datetime) -> list[CallUser]:
    """The call's users by UID, first joined first, each with a presence bar over the call's span."""
    sessions = list(CallSession.objects.filter(call=call).defer("project_id", "call_id").order_by("joined_at", "pk"))
    by_uid: dict[int, list[CallSession]] = {}
    for session in sessions:
        by_uid.setdefault(session.uid, []).append(session)
    start, end = call.started_at, call_end(call, now)
    span = max((end - start).total_seconds(), 1)
    users = []
    for uid, own in by_uid.items():
        ends = [session.left_at or end for session in own]
        roles = list(dict.fromkeys(role for session in own for role in (session.roles or []) if isinstance(role, str)))
        user = CallUser(
            uid=uid,
            sessions=own,
            first_join=own[0].joined_at,
            last_leave=None if any(session.left_at is None for session in own) else max(ends),
            in_call=sum((stop - session.joined_at for session, stop in zip(own, ends, strict=True)), timedelta()),
            roles=roles,
            audio_freeze_rate=_worst([session.audio_freeze_rate for session in own]),
            video_freeze_rate=_worst([session.video_freeze_rate for session in own]),
        )
        for session, stop in zip(own, ends, strict=True):
            left = max((session.joined_at - start).total_seconds(), 0) / span * 1000
            right = min((stop - start).total_seconds(), span) / span * 1000
            user.presence.append((round(left, 1), round(max(right - left, 2), 1)))
        users.append(user)
    return users


def default_choice(users: list[CallUser], count: int = 5) -> list[int]:
    """The users charted before anyone chooses: the worst freezing first, then the first to join."""
    ranked = sorted(users, key=lambda user: (-user.worst_freeze, user.first_join, user.uid))
    return [user.uid for user in ranked[:count]]


def chosen_uids(params: QueryDict, users: list[CallUser]) -> tuple[list[int], list[str]]:
    """The UIDs asked for (`uid`, repeated), those of the call only, at most MAX_CHOSEN; and any problem."""
    known = {user.uid for user in users}
    problems: list[str] = []
    chosen: list[int] = []
    for raw in params.getlist("uid")[: MAX_CHOSEN * 5]:
        text = raw.strip()
        if text.isascii() and text.isdigit() and len(text) <= 10 and int(text) in known:
            if int(text) not in chosen:
                chosen.append(int(text))
        elif text:
            problems.append(f"UID {text[:20]!r} is not a user of this call; it was left out.")
    if len(chosen) > MAX_CHOSEN:
        problems.append(f"Metrics are shown for at most {MAX_CHOSEN} users at once; the first {MAX_CHOSEN} are shown.")
        chosen = chosen[:MAX_CHOSEN]
    return chosen, problems[:5]


# The time window of the charts -------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    whole_call: bool  # the window covers the whole call

    @property
    def seconds(self) -> float:
        return max((self.end - self.start).total_seconds(), 1)


def chart_window(call: Call, params: Params, now: datetime) -> tuple[Window, list[str]]:
    """The stretch of the call to chart: from/to within the call, at most WINDOW long; by default the whole
    call, or its last WINDOW when it is longer (where a call that went wrong usually ends)."""
    first, last = call.started_at, call_end(call, now)
    problems: list[str] = []
    moments: dict[str, datetime] = {}
    for name in ("from", "to"):
        raw = str(params.get(name) or "")
        if not raw:
            continue
        try:
            moments[name] = min(max(parse_moment(raw), first), last)
        except (ValueError, OverflowError):
            problems.append(f"{name.title()} must be a date and time such as 2026-12-05T14:30 (UTC); it was ignored.")
    asked_start, asked_end = moments.get("from"), moments.get("to")
    if asked_start and asked_end and asked_start > asked_end:
        problems.append("From is after To; they were swapped.")
        asked_start, asked_end = asked_end, asked_start
    if asked_start is None:
        end = asked_end or last
        start = max(first, end - WINDOW)
    else:
        start = asked_start
        end = asked_end or min(last, start + WINDOW)
    if end - start > WINDOW:
        problems.append("Charts cover at most 3 hours at a time; showing the first 3 hours from From.")
        end = start + WINDOW
    if end <= start:  # a call of no length, or a window squeezed onto one moment
        end = start + timedelta(seconds=agora_shapes.SAMPLE_SECONDS)
    return Window(start, end, start <= first and end >= last), problems


# Metrics ------------------------------------------------------------------------------------------------

SENDER_MIDS = [mid for mid, metric in agora_shapes.METRICS.items() if metric.side == "sender"]
RECEIVER_MIDS = [mid for mid, metric in agora_shapes.METRICS.items() if metric.side == "receiver"]


def points_in(points: object, window: Window) -> list:
    """The [unix seconds, value] points of a stored series that fall in the window: the stored lists themselves
    (a chart reads tens of thousands), in the order stored. The pull stores only well-formed points in time
    order (usage.client checks each); a series that is not, left by other means, is read on a slower path that
    leaves out what is not a point."""
    low, high = window.start.timestamp(), window.end.timestamp()
    if not isinstance(points, list):
        return []
    try:
        return [point for point in points if low <= point[0] <= high]
    except (TypeError, IndexError, KeyError):
        return [
            point
            for point in points
            if isinstance(point, list) and len(point) == 2 and _number_pair(point) and low <= point[0] <= high
        ]


def _number_pair(point: list) -> bool:
    return all(type(item) in (int, float) and math.isfinite(item) for item in point)


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while many small lists are decoded (a chart's points): they hold no
    cycles, and collecting while tens of thousands of them are made costs more than decoding them."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def sender_series(call: Call, uids: list[int], window: Window) -> dict[int, dict[int, list]]:
    """mid -> uid -> points: each chosen user's own (upstream) metrics, over all its sessions."""
    rows = MetricSeries.objects.filter(
        session__call=call, session__uid__in=uids, mid__in=SENDER_MIDS, peer_uid=0
    ).values_list("mid", "session__uid", "points")
    series: dict[int, dict[int, list]] = {mid: {} for mid in SENDER_MIDS}
    with collector_paused():
        for mid, uid, points in rows:
            series[mid].setdefault(uid, []).extend(points_in(points, window))
    for by_uid in series.values():
        for points in by_uid.values():
            points.sort()
    return series


def receiver_series(call: Call, receiver: int, peers: list[int] | None, window: Window) -> dict[int, dict[int, list]]:
    """mid -> remote uid -> points: what `receiver` got from each remote user (`peers` only, when given)."""
    rows = MetricSeries.objects.filter(session__call=call, session__uid=receiver, mid__in=RECEIVER_MIDS).exclude(
        peer_uid=0
    )
    if peers is not None:
        rows = rows.filter(peer_uid__in=peers)
    series: dict[int, dict[int, list]] = {mid: {} for mid in RECEIVER_MIDS}
    with collector_paused():
        for mid, peer, points in rows.values_list("mid", "peer_uid", "points"):
            series[mid].setdefault(peer, []).extend(points_in(points, window))
    for by_peer in series.values():
        for points in by_peer.values():
            points.sort()
    return series


def remote_users(call: Call, receiver: int) -> list[int]:
    """The remote users `receiver` has metrics about."""
    peers = MetricSeries.objects.filter(session__call=call, session__uid=receiver).exclude(peer_uid=0)
    return sorted(set(peers.values_list("peer_uid", flat=True)))


# Key events ---------------------------------------------------------------------------------------------

LEAVE_REASONS = {  # reason of events 104, 106 and 108 (reference section 5.3)
    0: "other reason",
    1: "left normally",
    2: "timed out: no packets for over 10 seconds",
    3: "removed by a kicking rule",
    4: "moved by the server (load balancing); the client reconnects",
    5: "replaced by the same user on a new device",
    9: "reconnected: the client has several IP addresses or a VPN",
    10: "reconnected after a network problem",
    12: "token error or expired token",
    99: "unknown network problem",
    999: "abnormal user (rapid joins and leaves)",
}
NORMAL_LEAVE = 1
LEAVE_EVENTS = (ncs.BROADCASTER_LEFT, ncs.AUDIENCE_LEFT, ncs.COMMUNICATION_LEFT)
ROLE_EVENTS = (ncs.BECAME_BROADCASTER, ncs.BECAME_AUDIENCE)
NOTICE_SLACK = timedelta(seconds=90)  # a leave notice and a session's leave time may differ this much


@dataclass(frozen=True)
class KeyEvent:
    at: datetime
    uid: int
    kind: str  # "join", "leave", "role", "quality"
    text: str
    severe: bool = False  # Agora's red: worth a look

    @property
    def kind_label(self) -> str:
        return {"join": "Joined", "leave": "Left", "role": "Role change", "quality": "Quality"}[self.kind]


def _notice_time(notice: ReceivedNotice) -> datetime:
    ts = notice.payload.get("ts") if isinstance(notice.payload, dict) else None
    if isinstance(ts, int) and not isinstance(ts, bool) and 0 < ts < 2**32:
        return datetime.fromtimestamp(ts, UTC)
    return notice.first_received_at


def _notices(call: Call, uids: list[int], now: datetime) -> list[tuple[datetime, ReceivedNotice]]:
    """The leave and role notices of these users in the call's channel during the call."""
    start, end = call.started_at - NOTICE_SLACK, call_end(call, now) + NOTICE_SLACK
    notices = ReceivedNotice.objects.filter(
        project_id=call.project_id,
        channel_name=call.channel_name,
        uid__in=uids,
        event_type__in=LEAVE_EVENTS + ROLE_EVENTS,
        first_received_at__gte=start,
        first_received_at__lte=end + timedelta(hours=1),  # delivered late
    ).only("event_type", "uid", "payload", "first_received_at")[:2000]
    timed = [(_notice_time(notice), notice) for notice in notices]
    return sorted(((moment, notice) for moment, notice in timed if start <= moment <= end), key=lambda item: item[0])


def leave_text(reason: object) -> tuple[str, bool]:
    """(the words for a leave reason, whether it is worth a look)."""
    if not isinstance(reason, int) or isinstance(reason, bool):
        return "left", False
    words = LEAVE_REASONS.get(reason, f"reason {reason}")
    return f"left: {words} (reason {reason})", reason != NORMAL_LEAVE


def key_events(call: Call, users: list[CallUser], chosen: list[int], now: datetime) -> list[KeyEvent]:
    """Joins, leaves (with Agora's reason when the leave notification was received) and role changes of the
    chosen users, oldest first. Quality spikes come from the charts (spike_events)."""
    chosen_set = set(chosen)
    events = []
    notices = _notices(call, chosen, now) if chosen else []
    leaves = [(moment, notice) for moment, notice in notices if notice.event_type in LEAVE_EVENTS]
    for user in users:
        if user.uid not in chosen_set:
            continue
        for session in user.sessions:
            events.append(KeyEvent(session.joined_at, user.uid, "join", _join_text(session)))
            if session.left_at is None:
                continue
            reason = _leave_reason(leaves, user.uid, session.left_at)
            text, severe = leave_text(reason)
            events.append(KeyEvent(session.left_at, user.uid, "leave", text, severe))
    for moment, notice in notices:
        if notice.event_type in ROLE_EVENTS and notice.uid is not None:
            to = "host" if notice.event_type == ncs.BECAME_BROADCASTER else "audience"
            events.append(KeyEvent(moment, notice.uid, "role", f"became {to}"))
    return sorted(events, key=lambda event: (event.at, event.uid))


def _join_text(session: CallSession) -> str:
    details = [value for value in (session.platform, session.network) if value]
    return "joined" + (f" ({', '.join(details)})" if details else "")


def _leave_reason(leaves: list[tuple[datetime, ReceivedNotice]], uid: int, left_at: datetime) -> object:
    """The reason of the leave notice closest to `left_at` for this user (None without one)."""
    near = [
        (abs((moment - left_at).total_seconds()), notice)
        for moment, notice in leaves
        if notice.uid == uid and abs(moment - left_at) <= NOTICE_SLACK
    ]
    if not near:
        return None
    payload = min(near, key=lambda item: item[0])[1].payload
    return payload.get("reason") if isinstance(payload, dict) else None


def spike_events(series: dict[int, dict[int, list]], *, receiver: int | None = None) -> list[KeyEvent]:
    """One event per run of bad points (above the metric's threshold) in `series` (mid -> uid -> points).
    Sender series are about their uid; receiver series (receiver given) about what `receiver` got from uid."""
    events = []
    for mid, by_uid in series.items():
        metric = agora_shapes.METRICS[mid]
        if metric.bad_above is None:
            continue
        for uid, points in by_uid.items():
            for start, peak in _bad_runs(points, metric.bad_above):
                about = uid if receiver is None else receiver
                source = "" if receiver is None else f" from {uid}"
                text = (
                    f"{metric.label}{source} above {metric.bad_above:g} {metric.unit} (peak {peak:,.0f} {metric.unit})"
                )
                events.append(KeyEvent(datetime.fromtimestamp(start, UTC), about, "quality", text, True))
    return events


def _bad_runs(points: list, threshold: float) -> list[tuple[int, float]]:
    """(start, peak) of each run of points above `threshold`; a gap of two samples ends a run."""
    runs: list[tuple[int, float]] = []
    start = last = None
    peak = 0.0
    for moment, value in points:
        if value <= threshold:
            continue
        if last is not None and moment - last <= 2 * agora_shapes.SAMPLE_SECONDS:
            peak = max(peak, value)
        else:
            if start is not None:
                runs.append((start, peak))
            start, peak = moment, value
        last = moment
    if start is not None:
        runs.append((start, peak))
    return runs
