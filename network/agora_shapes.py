"""Agora's channel management and call analytics APIs (reference sections 3 and 4), defined once: the
questions (query parameters and bodies, checked here) and the answers (JSON shapes built here). Used by the
console's own Agora-compatible endpoints, by the sandbox upstream that plays the network, and read back by
the pull (usage.client), so the three cannot drift apart.

Every check raises QueryError (a RuleViolation with the HTTP status to answer, 400 unless said) with Agora's
kind of message; callers answer {"message": ...}.
"""

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from usage.agora_serializers import QueryError

CHANNEL_PAGE_SIZE = (1, 500, 100)  # min, max, default of /dev/v1/channel's page_size
ANALYTICS_PAGE_SIZE = (1, 100, 20)  # of /beta/analytics/call/lists and /sessions
MAX_SESSION_UIDS = 10  # uids= of /call/sessions
MAX_METRIC_SIDS = 20  # sids= of /call/metrics
MAX_AUDIENCE_LISTED = 10_000  # /dev/v1/channel/user lists the first 10,000 audience members only
MAX_UID = 2**32 - 1

# Channel profile (`mode`) and a user's role as /dev/v1/channel/user answers them.
MODE_COMMUNICATION, MODE_LIVE = 1, 2
ROLE_UNKNOWN, ROLE_COMMUNICATION, ROLE_HOST, ROLE_AUDIENCE = 0, 1, 2, 3

# Kicking rules (section 4.4)
PRIVILEGES = ("join_channel", "publish_audio", "publish_video")
MINUTES = (1, 1440)  # `time` is clamped into this range; 0 is a one-shot kick
SECONDS = (10, 86430)  # `time_in_seconds` likewise; it wins over `time`
DEFAULT_SECONDS = 60 * 60


# Numbers in query strings ---------------------------------------------------------------------------


def whole_number(params: Mapping[str, str], name: str, default: int | None = None) -> int:
    """The parameter as a non-negative integer; `default` when absent (QueryError when required)."""
    raw = params.get(name)
    if raw is None or raw == "":
        if default is None:
            raise QueryError(f"{name} is required")
        return default
    text = str(raw).strip()
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        raise QueryError(f"{name} must be a whole number")
    return int(text)


def page(
    params: Mapping[str, str], bounds: tuple[int, int, int], *, first: int, number_param: str = "page_no"
) -> tuple[int, int]:
    """(page number, page_size) checked against `bounds` (min, max, default size); pages count from `first`."""
    low, high, default = bounds
    number = whole_number(params, number_param, first)
    size = whole_number(params, "page_size", default)
    if number < first:
        raise QueryError(f"{number_param} starts at {first}")
    if not low <= size <= high:
        raise QueryError(f"page_size must be between {low} and {high}")
    return number, size


def uid_of(text: str) -> int:
    """A UID in a path or list: an integer from 1 to 2^32-1 (user accounts are not accepted)."""
    value = str(text).strip()
    if not value.isascii() or not value.isdigit() or len(value) > 10 or not 0 < int(value) <= MAX_UID:
        raise QueryError("uid must be an integer from 1 to 4294967295")
    return int(value)


@dataclass(frozen=True)
class TimeWindow:
    start: datetime
    end: datetime


def time_window(params: Mapping[str, str]) -> TimeWindow:
    """start_ts and end_ts (Unix seconds, UTC), both required, start before end."""
    start, end = whole_number(params, "start_ts"), whole_number(params, "end_ts")
    if start >= end:
        raise QueryError("start_ts must be before end_ts")
    try:
        return TimeWindow(datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC))
    except (OverflowError, OSError, ValueError) as error:
        raise QueryError("start_ts and end_ts must be Unix times in seconds") from error


def id_list(params: Mapping[str, str], name: str, limit: int) -> list[str]:
    """A comma-separated list of at most `limit` ids (empty when absent)."""
    items = [item.strip() for item in str(params.get(name) or "").split(",") if item.strip()]
    if len(items) > limit:
        raise QueryError(f"{name} lists at most {limit}")
    return items


def seconds(moment: datetime | None) -> int:
    return int(moment.timestamp()) if moment else 0


# Channels (section 4.1 to 4.3) ----------------------------------------------------------------------


def channel_list_answer(channels: Iterable[tuple[str, int]], total: int) -> dict:
    """`channels`: (channel name, user count) of one page."""
    rows = [{"channel_name": name, "user_count": count} for name, count in channels]
    return {"success": True, "data": {"channels": rows, "total_size": total}}


def channel_users_answer(
    hosts: list[int], audience: list[int], communication: list[int], *, hosts_only: bool = False
) -> dict:
    """Who is in a channel. A channel with communication users only is in the communication profile (mode 1);
    otherwise it is live (mode 2), its communication users counted as hosts (v4 SDKs send them as hosts)."""
    if not (hosts or audience or communication):
        return {"success": True, "data": {"channel_exist": False}}
    if not hosts and not audience and not hosts_only:
        data = {"channel_exist": True, "mode": MODE_COMMUNICATION, "total": len(communication), "users": communication}
        return {"success": True, "data": data}
    data = {"channel_exist": True, "mode": MODE_LIVE, "broadcasters": sorted(hosts + communication)}
    if not hosts_only:
        data["audience"] = audience[:MAX_AUDIENCE_LISTED]
        data["audience_total"] = len(audience)
    return {"success": True, "data": data}


def user_property_answer(uid: int, joined_at: datetime | None, role: int | None, platform: int | None) -> dict:
    """One user's state in a channel; `role` in /dev/v1's numbering (ROLE_*), None when not in the channel."""
    if role is None:
        return {"success": True, "data": {"in_channel": False}}
    data = {"in_channel": True, "uid": uid, "join": seconds(joined_at), "role": role, "platform": platform or 0}
    return {"success": True, "data": data}


# Kicking rules (section 4.4) ------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleRequest:
    """A rule as asked for: `seconds` 0 is a one-shot kick (nothing stays), otherwise the clamped duration."""

    app_id: str
    channel_name: str
    uid: int | None
    ip: str
    privileges: tuple[str, ...]
    seconds: int


def duration_seconds(body: Mapping) -> int:
    """Agora's duration rules: `time_in_seconds` (clamped to 10..86430) wins over `time` (minutes, clamped
    to 1..1440); 0 in either is a one-shot kick; neither given is 60 minutes."""
    given_seconds, given_minutes = body.get("time_in_seconds"), body.get("time")
    if given_seconds is not None:
        value = _number(given_seconds, "time_in_seconds")
        return 0 if value == 0 else min(max(value, SECONDS[0]), SECONDS[1])
    if given_minutes is not None:
        value = _number(given_minutes, "time")
        return 0 if value == 0 else 60 * min(max(value, MINUTES[0]), MINUTES[1])
    return DEFAULT_SECONDS


def _number(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or value != int(value):
        raise QueryError(f"{name} must be a whole number of at least 0")
    return int(min(value, 10**9))


def rule_request(body: Mapping) -> RuleRequest:
    """The body of POST /dev/v1/kicking-rule, checked as Agora checks it."""
    app_id = body.get("appid")
    if not isinstance(app_id, str) or not app_id:
        raise QueryError("appid is required")
    channel_name = body.get("cname") or ""
    if not isinstance(channel_name, str) or len(channel_name.encode()) > 64:
        raise QueryError("cname must be a channel name of at most 64 bytes")
    uid = body.get("uid")
    if uid is not None and (isinstance(uid, bool) or not isinstance(uid, int) or not 0 < uid <= MAX_UID):
        raise QueryError("uid must be an integer from 1 to 4294967295 (omit it rather than send 0)")
    ip = body.get("ip") or ""
    if ip:
        try:
            ip = str(ipaddress.ip_address(str(ip)))
        except ValueError as error:
            raise QueryError("ip must be an IPv4 or IPv6 address") from error
    if not (channel_name or uid or ip):
        raise QueryError("a rule names at least one of cname, uid and ip")
    privileges = body.get("privileges")
    if (
        not isinstance(privileges, list)
        or not privileges
        or not all(isinstance(item, str) and item in PRIVILEGES for item in privileges)
    ):
        raise QueryError(f"privileges must list one or more of {', '.join(PRIVILEGES)}")
    return RuleRequest(app_id, channel_name, uid, ip, tuple(dict.fromkeys(privileges)), duration_seconds(body))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def rule_answer(
    rule_id: int,
    app_id: str,
    *,
    channel_name: str,
    uid: int | None,
    ip: str,
    privileges: list[str],
    expires_at: datetime,
    created_at: datetime,
    updated_at: datetime,
) -> dict:
    """One rule as GET /dev/v1/kicking-rule lists it (`ts` is when it expires; `opid` the rule's own id)."""
    return {
        "id": rule_id,
        "appid": app_id,
        "uid": uid,
        "opid": rule_id,
        "cname": channel_name or None,
        "ip": ip or None,
        "ts": iso(expires_at),
        "privileges": list(privileges),
        "createAt": iso(created_at),
        "updateAt": iso(updated_at),
    }


# Call analytics (section 3.2 to 3.4) ----------------------------------------------------------------


def _paged(key: str, rows: Iterable[Mapping], *, total: int, page_no: int, page_size: int) -> dict:
    """Agora Analytics' paged answer: the page's rows under `key`, and whether more follow."""
    return {
        "code": 200,
        "message": "",
        "total_size": total,
        "page_no": page_no,
        "page_size": page_size,
        "has_more": page_no * page_size < total,
        key: list(rows),
    }


def call_list_answer(calls: Iterable[Mapping], *, total: int, page_no: int, page_size: int) -> dict:
    """`calls`: mappings with call_id, cname, created_ts, destroyed_ts, finished, call_pcu, call_acu,
    call_audio_freeze_rate, call_video_freeze_rate (Agora's names)."""
    return _paged("call_lists", calls, total=total, page_no=page_no, page_size=page_size)


def sessions_answer(sessions: Iterable[Mapping], *, total: int, page_no: int, page_size: int) -> dict:
    """`sessions`: mappings with sid, cname, uid, account, network, platform, speaker, roles, sdk_version,
    device_type, join_ts, leave_ts, finished, user_audio_freeze_rate, user_video_freeze_rate."""
    return _paged("call_info", sessions, total=total, page_no=page_no, page_size=page_size)


def metrics_answer(series: Mapping[str, Iterable[tuple[int, int, list]]]) -> dict:
    """`series`: sid -> [(mid, peer_uid, [[unix seconds, value], ...]), ...]."""
    metrics = [
        {"sid": sid, "data": [{"mid": mid, "peer_uid": peer, "kvs": points} for mid, peer, points in items]}
        for sid, items in series.items()
    ]
    return {"code": 200, "message": "", "metrics": metrics}


# The metrics (`mid`) the console charts, with Agora's thresholds (reference sections 1.1 and 3.4).
@dataclass(frozen=True)
class Metric:
    mid: int
    label: str
    unit: str
    side: str  # "sender": about the user's own upstream (peer_uid 0); "receiver": about one remote user
    bad_above: float | None = None  # a point above this is marked bad


SAMPLE_SECONDS = 10  # the interval between two points of a series
METRICS = {
    metric.mid: metric
    for metric in (
        Metric(20003, "Audio sending bitrate", "Kbps", "sender"),
        Metric(20024, "Video sending bitrate", "Kbps", "sender"),
        Metric(20015, "Audio upstream packet loss", "%", "sender", bad_above=5),
        Metric(20017, "Video upstream packet loss", "%", "sender", bad_above=5),
        Metric(20022, "Wi-Fi/LAN round trip to the router", "ms", "sender", bad_above=500),
        Metric(20021, "SDK task scheduling delay", "ms", "sender", bad_above=80),
        Metric(20004, "Audio receiving bitrate", "Kbps", "receiver"),
        Metric(20009, "Video receiving bitrate", "Kbps", "receiver"),
        Metric(20016, "Audio end-to-end packet loss", "%", "receiver", bad_above=5),
        Metric(20018, "Video end-to-end packet loss", "%", "receiver", bad_above=5),
        # Freeze time within a sample: above 3% (audio) or 5% (video) of the sample is a freezing user.
        Metric(20005, "Audio freeze time", "ms", "receiver", bad_above=0.03 * SAMPLE_SECONDS * 1000),
        Metric(20011, "Video freeze time", "ms", "receiver", bad_above=0.05 * SAMPLE_SECONDS * 1000),
    )
}
AUDIO_FREEZE_BAD, VIDEO_FREEZE_BAD = 0.03, 0.05  # freeze rates (fractions) above which a user or call is bad
