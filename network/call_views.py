"""The call inspector's pages: the call search (Calls tab), one call's page, and the Quality tab.

Parsing and rendering only: the queries are in calls.py and quality.py, the chart geometry in call_charts.py.
Every filter that cannot be read is left out with a message on the page; nothing a visitor types gives a 500.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_safe

from accounts.access import member_required
from console.changelist import Changelist, Column
from console.dates import duration_label

from . import agora_shapes, call_charts, calls, quality
from .models import Call
from .pages import project_for, render_project_page

USERS_PER_PAGE = 50
EVENTS_LISTED = 300
REMOTE_LINES = 20  # remote users drawn on the receiver's charts when no other user is chosen
GAP = 2.5 * agora_shapes.SAMPLE_SECONDS  # a longer gap between two samples breaks a line


def _local(moment: datetime | None) -> str:
    """A moment as a datetime-local input takes it (UTC, to the second)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") if moment else ""


def _utc(moment: datetime | None, *, seconds: bool = True) -> str:
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def _span(start: datetime, end: datetime | None) -> str:
    """Agora's "11-08 15:50:16 to 11-08 16:38:01" (the end's date left out when it is the same day), with the
    year when it is not this year's."""
    year = timezone.now().year
    form = "%m-%d %H:%M:%S" if start.year == year and (end is None or end.year == year) else "%Y-%m-%d %H:%M:%S"
    first = start.astimezone(UTC).strftime(form)
    if end is None:
        return f"{first} to now"
    same_day = start.astimezone(UTC).date() == end.astimezone(UTC).date()
    return f"{first} to {end.astimezone(UTC).strftime('%H:%M:%S' if same_day else form)}"


def _clock_span(start: datetime, end: datetime | None, day) -> str:
    """A user's time in a call, as times of day when all of it is on `day` (the call's first day, shown above)."""
    first, last = start.astimezone(UTC), end.astimezone(UTC) if end else None
    if first.date() != day or (last is not None and last.date() != day):
        return _span(start, end)
    return f"{first:%H:%M:%S} to {last:%H:%M:%S}" if last else f"{first:%H:%M:%S} to now"


@dataclass
class CallRow:
    """What a row of the search (and the call's header) shows about a call."""

    call: Call
    url: str
    public_id: str
    span: str
    duration: str
    in_progress: bool
    audio: str
    video: str
    audio_bad: bool
    video_bad: bool


def call_row(call: Call, project_id: str, now: datetime) -> CallRow:
    return CallRow(
        call=call,
        url=reverse("channels:call", args=[project_id, call.call_id or call.pk]),
        public_id=calls.public_id(call),
        span=_span(call.started_at, call.ended_at),
        duration=duration_label(calls.duration(call, now)),
        in_progress=call.ended_at is None,
        audio=calls.percent(call.audio_freeze_rate),
        video=calls.percent(call.video_freeze_rate),
        audio_bad=calls.bad_audio(call.audio_freeze_rate),
        video_bad=calls.bad_video(call.video_freeze_rate),
    )


# The search -------------------------------------------------------------------------------------------

SORTED_BY = {
    "accumulated_users": "users (ACU)",
    "audio_freeze_rate": "audio freeze rate",
    "video_freeze_rate": "video freeze rate",
}


class CallChangelist(Changelist):
    """The console's changelist with the call search's own filters (calls.CallQuery, applied before) and a
    count that stops at calls.COUNT_CAP."""

    def __init__(self, request, queryset, problems: list[str], query: calls.CallQuery, **options):
        self.problems, self.query = problems, query
        super().__init__(request, queryset, **options)

    def __post_init__(self):
        self.params = self.request.GET
        self.errors = list(self.problems)
        self.search = ""
        self.sort_note = ""
        self.queryset = self._sorted(self.queryset)
        self.page = calls.CappedPaginator(self.queryset, self.per_page).get_page(self.params.get("page"))

    def _sorted(self, queryset):
        """Newest first, or by the column asked for. A sort by a quality figure ranks the calls that have it
        (read in that order from an index) and says that the others are left out."""
        labels = {column.sort: column.label for column in self.columns if column.sort}
        order = self.params.get("o", "")
        name = order.lstrip("-")
        if name not in labels:
            return queryset
        direction = "-" if order.startswith("-") else ""
        if name != "started_at":
            queryset = queryset.filter(**{f"{name}__isnull": False})
            self.sort_note = (
                f"Sorted by {SORTED_BY[name]}: calls without one (in progress, or not yet in Agora Analytics) "
                "are left out."
            )
        return queryset.order_by(f"{direction}{name}", f"{direction}started_at", f"{direction}pk")

    @property
    def is_filtered(self) -> bool:
        return self.query.narrowed


@member_required("channels")
@require_safe
def call_search(request, project_id):
    project = project_for(request, project_id)
    now = timezone.now()
    query, problems = calls.parse_call_query(request.GET, now)
    changelist = CallChangelist(
        request,
        calls.search(project, query, now),
        problems,
        query,
        columns=[
            Column("Channel name"),
            Column("Call ID"),
            Column("Time range (UTC)", "started_at"),
            Column("Duration"),
            Column("Status"),
            Column("PCU / ACU", "accumulated_users"),
            Column("Audio freeze", "audio_freeze_rate"),
            Column("Video freeze", "video_freeze_rate"),
            Column(""),
        ],
        row_template="network/rows/call.html",
        table_class="calls",
        empty_hint="Try a longer time range, such as the last 7 or 30 days.",
        clear_url="?" + urlencode({"range": query.preset}) if query.preset != "custom" else "?",
        empty_title="No calls in this time range",
        empty_text="Calls appear when the first user joins a channel (webhooks) and get their users and quality "
        "once Agora Analytics has them (the analytics pull).",
    )
    changelist.page.object_list = [call_row(call, project.project_id, now) for call in changelist.page.object_list]
    options = [(key, label) for key, (label, _) in calls.PRESETS.items()] + [("custom", "Custom range")]
    context = {
        "cl": changelist,
        "query": query,
        "range_options": [{"key": key, "label": label, "current": key == query.preset} for key, label in options],
        "statuses": calls.STATUSES,
        "range_from": _local(query.start),
        "range_to": _local(query.end),
        "range_label": f"{_utc(query.start, seconds=False)} to {_utc(query.end, seconds=False)} UTC",
        "min_audio_freeze": "" if query.min_audio_freeze is None else f"{query.min_audio_freeze:g}",
        "min_video_freeze": "" if query.min_video_freeze is None else f"{query.min_video_freeze:g}",
        "audio_bad": f"{agora_shapes.AUDIO_FREEZE_BAD:.0%}",
        "video_bad": f"{agora_shapes.VIDEO_FREEZE_BAD:.0%}",
    }
    return render_project_page(request, project, "calls", "network/calls.html", context, title="Calls")


# One call ---------------------------------------------------------------------------------------------


@member_required("channels")
@require_safe
def call_page(request, project_id, call):
    project = project_for(request, project_id)
    now = timezone.now()
    found = calls.find_call(Call.objects.filter(project=project), call)
    header = call_row(found, project.project_id, now)
    users = calls.call_users(found, now)
    problems: list[str] = []
    if request.GET.get("chosen") or request.GET.getlist("uid"):
        chosen, problems = calls.chosen_uids(request.GET, users)
    else:
        chosen = calls.default_choice(users)
    window, window_problems = calls.chart_window(found, request.GET, now)
    problems += window_problems
    context = {
        "row": header,
        "call": found,
        "now": now,
        "problems": problems,
        "max_chosen": calls.MAX_CHOSEN,
        "audio_bad": f"{agora_shapes.AUDIO_FREEZE_BAD:.0%}",
        "video_bad": f"{agora_shapes.VIDEO_FREEZE_BAD:.0%}",
        "search_url": reverse("channels:calls", args=[project.project_id]),
    }
    if users:
        context.update(_users_context(request, users, chosen, found))
        context.update(_window_context(request, found, window, now))
        context.update(_metrics_context(request, found, users, chosen, window, now))
    return render_project_page(
        request, project, "calls", "network/call.html", context, title=f"Call in {found.channel_name}"
    )


def _users_context(request, users: list[calls.CallUser], chosen: list[int], call: Call) -> dict:
    page = Paginator(users, USERS_PER_PAGE).get_page(request.GET.get("users_page"))
    day = call.started_at.astimezone(UTC).date()
    rows = []
    for user in page.object_list:
        latest = user.latest
        rows.append(
            {
                "user": user,
                "latest": latest,
                "chosen": user.uid in chosen,
                "join_leave": _clock_span(user.first_join, user.last_leave, day),
                "in_call": duration_label(user.in_call),
                "sessions": len(user.sessions),
                "audio": calls.percent(user.audio_freeze_rate),
                "video": calls.percent(user.video_freeze_rate),
                "audio_bad": calls.bad_audio(user.audio_freeze_rate),
                "video_bad": calls.bad_video(user.video_freeze_rate),
                "presence_label": "; ".join(
                    _clock_span(session.joined_at, session.left_at, day) for session in user.sessions
                ),
            }
        )
    on_page = {user.uid for user in page.object_list}
    params = request.GET.copy()
    params.pop("users_page", None)
    return {
        "users": rows,
        "users_page": page,
        "user_count": len(users),
        "chosen": chosen,
        "chosen_elsewhere": [uid for uid in chosen if uid not in on_page],  # kept as hidden inputs
        "users_page_query": params.urlencode(),
        "freezing_users": sum(user.freezing for user in users),
        "call_ended": call.ended_at is not None,
    }


def _window_context(request, call: Call, window: calls.Window, now: datetime) -> dict:
    first, last = call.started_at, calls.call_end(call, now)
    length = window.end - window.start

    def link(start: datetime, end: datetime) -> str:
        params = request.GET.copy()
        params["from"], params["to"] = _local(start), _local(end)
        return "?" + params.urlencode() + "#metrics"

    earlier = later = None
    if window.start > first:
        start = max(first, window.start - length)
        earlier = link(start, start + length)
    if window.end < last:
        end = min(last, window.end + length)
        later = link(end - length, end)
    whole = None
    if not window.whole_call and last - first <= calls.WINDOW:
        whole = link(first, last)
    return {
        "window": window,
        "window_from": _local(window.start),
        "window_to": _local(window.end),
        "window_label": f"{_utc(window.start)} to {_utc(window.end)} UTC",
        "window_length": duration_label(length),
        "call_longer_than_window": last - first > calls.WINDOW,
        "earlier_url": earlier,
        "later_url": later,
        "whole_url": whole,
        "call_first": _local(first),
        "call_last": _local(last),
    }


def _metrics_context(request, call: Call, users, chosen: list[int], window: calls.Window, now: datetime) -> dict:
    if not chosen:
        return {"receiver": None}
    start, end = window.start.timestamp(), window.end.timestamp()
    raw = request.GET.get("receiver", "")
    receiver = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 10 and int(raw) in chosen else chosen[0]
    others = [uid for uid in chosen if uid != receiver]
    remote_note = ""
    if others:
        peers = others
    else:
        every = calls.remote_users(call, receiver)
        peers = every[:REMOTE_LINES]
        if len(every) > REMOTE_LINES:
            remote_note = f"Showing {REMOTE_LINES} of the {len(every)} remote users; choose users to compare others."
    sent = calls.sender_series(call, chosen, window)
    received = calls.receiver_series(call, receiver, peers, window)
    sender_charts = [
        _chart(mid, [(f"UID {uid}", sent[mid].get(uid, [])) for uid in chosen], start, end) for mid in calls.SENDER_MIDS
    ]
    receiver_charts = [
        _chart(mid, [(f"from {peer}", received[mid].get(peer, [])) for peer in peers], start, end, who=f"{receiver} ")
        for mid in calls.RECEIVER_MIDS
    ]
    events = calls.key_events(call, users, chosen, now)
    events += calls.spike_events(sent) + calls.spike_events(received, receiver=receiver)
    events = [event for event in events if window.start <= event.at <= window.end]
    events.sort(key=lambda event: (event.at, event.uid))
    lanes = {uid: index for index, uid in enumerate(chosen)}
    dots = [
        (
            event.at.timestamp(),
            lanes[event.uid],
            f"event-{event.kind}{' severe' if event.severe else ''}",
            f"{_utc(event.at)} UTC · {event.uid} · {event.kind_label}: {event.text}",
        )
        for event in events
        if event.uid in lanes
    ]
    return {
        "receiver": receiver,
        "receiver_peers": peers,
        "remote_note": remote_note,
        "sender_charts": sender_charts,
        "receiver_charts": receiver_charts,
        "events": events[:EVENTS_LISTED],
        "events_total": len(events),
        "events_listed": EVENTS_LISTED,
        "timeline": call_charts.timeline([f"UID {uid}" for uid in chosen], dots, start, end),
        "legend": [(f"series-{index % call_charts.PALETTE}", uid) for index, uid in enumerate(chosen)],
        "receiver_legend": [(f"series-{index % call_charts.PALETTE}", uid) for index, uid in enumerate(peers)],
    }


def _chart(mid: int, series, start: float, end: float, who: str = "") -> call_charts.Chart:
    metric = agora_shapes.METRICS[mid]
    return call_charts.line_chart(
        metric.label, metric.unit, series, start, end, bad_above=metric.bad_above, gap=GAP, who=who
    )


# Quality ----------------------------------------------------------------------------------------------


@member_required("channels")
@require_safe
def quality_page(request, project_id):
    project = project_for(request, project_id)
    key = quality.range_key(request.GET.get("range"))
    now = timezone.now()
    summary = quality.summary(project, key, now)
    start, end = summary.start.timestamp(), summary.end.timestamp()
    step = summary.bucket_seconds
    per = "day" if summary.daily else "hour"
    rates = {
        "audio": [
            (b.start.timestamp() + step / 2, b.audio_rate * 100) for b in summary.buckets if b.audio_rate is not None
        ],
        "video": [
            (b.start.timestamp() + step / 2, b.video_rate * 100) for b in summary.buckets if b.video_rate is not None
        ],
    }
    charts = [
        call_charts.bar_chart(
            f"Calls started per {per}",
            "",
            [(b.start.timestamp(), b.calls) for b in summary.buckets],
            start,
            end,
            step,
            daily=summary.daily,
            whole=True,
        ),
        call_charts.bar_chart(
            f"Peak concurrent users per {per}",
            "",
            [(b.start.timestamp(), b.peak_users) for b in summary.buckets],
            start,
            end,
            step,
            daily=summary.daily,
            whole=True,
        ),
        call_charts.line_chart(
            "Audio freeze rate",
            "%",
            [("Audio", rates["audio"])],
            start,
            end,
            bad_above=agora_shapes.AUDIO_FREEZE_BAD * 100,
            gap=step * 1.5,
            sparse=60,
        ),
        call_charts.line_chart(
            "Video freeze rate",
            "%",
            [("Video", rates["video"])],
            start,
            end,
            bad_above=agora_shapes.VIDEO_FREEZE_BAD * 100,
            gap=step * 1.5,
            sparse=60,
        ),
    ]
    worst = (
        Call.objects.filter(project=project, started_at__gte=summary.start, started_at__lt=summary.end)
        .filter(video_freeze_rate__isnull=False)
        .order_by("-video_freeze_rate", "-started_at", "-pk")[:10]
    )
    search = reverse("channels:calls", args=[project.project_id])
    context = {
        "summary": summary,
        "ranges": [
            {"label": label, "url": "?" + urlencode({"range": k}), "current": k == key}
            for k, (label, _, _) in quality.RANGES.items()
        ],
        "charts": charts,
        "worst": [call_row(call, project.project_id, now) for call in worst],
        "audio_rate": calls.percent(summary.audio_rate),
        "video_rate": calls.percent(summary.video_rate),
        "audio_rate_bad": calls.bad_audio(summary.audio_rate),
        "video_rate_bad": calls.bad_video(summary.video_rate),
        "audio_share": calls.percent(summary.share(summary.audio_bad)),
        "video_share": calls.percent(summary.share(summary.video_bad)),
        "audio_bad": f"{agora_shapes.AUDIO_FREEZE_BAD:.0%}",
        "video_bad": f"{agora_shapes.VIDEO_FREEZE_BAD:.0%}",
        "range_label": f"{_utc(summary.start, seconds=False)} to {_utc(summary.end, seconds=False)} UTC",
        "search_url": search,
        "freezing_calls_url": f"{search}?range={key}&min_video_freeze=5",
        "per": per,
    }
    return render_project_page(request, project, "quality", "network/quality.html", context, title="Quality")
