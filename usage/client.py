"""The one HTTP client for usage upstreams (Agora's RESTful API or the sandbox).

Timeouts, HTTP Basic auth, retries with exponential backoff and jitter on connection errors, timeouts,
bodies cut short or not JSON, 429 (honouring Retry-After, capped) and 5xx; no retry on other 4xx.
Writes (`send_json`, for Agora's kicking rules) retry PUT and DELETE the same way but never a POST that the
upstream may have done (see send_json). Responses are validated before anyone uses them: a bad response
raises UpstreamError and nothing is written. Redirects are not followed. Error messages say the status or
what failed in our own words, never what the upstream answered: they are shown to users and stored.
A base URL a user typed goes through the egress guard.
Reads of Agora's channel and call analytics APIs walk every page, keep to the windows and batches Agora
allows, and can be paced (`min_interval`) to stay under its requests-per-second limits.
"""

import http.client
import math
import random
import socket
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus
from urllib.parse import quote

import requests
import urllib3.exceptions
from django.conf import settings

from network import agora_shapes
from network.ncs import MAX_CHANNEL_NAME

from . import egress
from .models import DURATION_FIELDS

MAX_RETRY_AFTER = 60.0
MAX_SECONDS = 2**63 - 1  # what a DailyUsage column (bigint) holds
# Worth another try: the network failed, the answer took too long, or its body was cut short.
TRANSIENT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)

# Agora's channel and call analytics queries (see the readers at the end)
MAX_PAGES = 1000  # a paged answer that goes on longer than this is not believed
LIST_SPAN = timedelta(hours=8)  # /call/lists: the longest window of the Standard plan (reference 3.1)
DETAIL_SPAN = timedelta(hours=1)  # /call/sessions and /call/metrics: likewise
ANALYTICS_SUCCESS = (0, 200)  # the call list's example answers code 0, the others 200
ANALYTICS_REFUSED = 300
QPS_LIMIT = "qps limit error"
# What Agora Analytics means by its code 300 messages (reference 3.7), in our words.
ANALYTICS_LIMITS = {
    QPS_LIMIT: "its limit of requests per second was reached",
    "qpd limit error": "its limit of requests per day was reached",
    "query latency limit error": "the window ends more recently than its data",
    "query time range limit error": "the window starts further back than the plan allows",
    "query time length limit error": "the window is longer than the plan allows",
    "you have no auth to access this service, please buy or upgrade your service package": (
        "the account's plan does not include this API"
    ),
}


class UpstreamError(Exception):
    """The upstream could not be reached or answered something unusable; the message says which."""


class UpstreamRefused(UpstreamError):
    """The upstream answered a write with an error status (`status`): it did not do it."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class OutcomeUnknown(UpstreamError):
    """A POST got no usable answer (none in time, the connection broke once it was sent, 504 Gateway Timeout,
    a success whose body cannot be read): the upstream may have done it or not. Ask it (Agora's advice for
    kicking rules: list them to find the new one's id)."""


# Agora's kicking rules (reference section 4.4): the console's only writes to an upstream.
KICKING_RULE_PATH = "/dev/v1/kicking-rule"
MAX_RULE_ID = 2**63 - 1  # what KickingRule.upstream_id (bigint) holds


@dataclass(frozen=True)
class UpstreamRule:
    """A kicking rule as the upstream lists it, checked: `channel_name` and `ip` are "" when not set."""

    id: int
    channel_name: str
    uid: int | None
    ip: str
    privileges: tuple[str, ...]
    expires_at: datetime


def _succeeded(data: dict, what: str) -> None:
    if data.get("status") != "success":
        raise UpstreamError(f"The upstream did not confirm {what}: its answer does not say success.")


def _rule_id(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_RULE_ID:
        raise UpstreamError(f"The upstream's answer to {what} has no valid rule id.")
    return value


def _upstream_moment(value) -> datetime | None:
    """An ISO 8601 UTC time ("2024-01-09T07:23:06.000Z") as an aware datetime; None if it is not one."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _upstream_rule(entry) -> UpstreamRule:
    """One entry of GET /dev/v1/kicking-rule's `rules`, or UpstreamError."""
    if not isinstance(entry, dict):
        raise UpstreamError("A kicking rule the upstream listed is not an object.")
    rule_id = _rule_id(entry.get("id"), "the rule list")
    channel_name, uid, ip = entry.get("cname") or "", entry.get("uid"), entry.get("ip") or ""
    privileges = entry.get("privileges")
    expires_at = _upstream_moment(entry.get("ts"))
    if (
        not isinstance(channel_name, str)
        or not isinstance(ip, str)
        or (uid is not None and (isinstance(uid, bool) or not isinstance(uid, int)))
        or not isinstance(privileges, list)
        or not all(isinstance(item, str) for item in privileges)
        or expires_at is None
    ):
        raise UpstreamError(f"Kicking rule {rule_id} as the upstream lists it does not have the expected shape.")
    return UpstreamRule(rule_id, channel_name, uid or None, ip, tuple(privileges), expires_at)


@dataclass
class UpstreamClient:
    base_url: str
    customer_id: str
    customer_secret: str
    timeout: float = field(default_factory=lambda: settings.USAGE_HTTP_TIMEOUT)
    retries: int = field(default_factory=lambda: settings.USAGE_HTTP_RETRIES)
    backoff: float = 0.5
    max_backoff: float = 8.0
    sleep: object = time.sleep
    attempts: int = 0  # HTTP requests made so far, retries included
    guarded: bool = False  # the base URL was typed by a user: public addresses only, checked on every connection
    min_interval: float = 0.0  # seconds between two GETs, to keep under an upstream's rate limit
    _last_request: float | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        self.session = requests.Session()
        self.session.auth = (self.customer_id, self.customer_secret)
        self.session.headers["Accept"] = "application/json"
        if self.guarded:
            adapter = egress.GuardedAdapter()
            self.session.mount("http://", adapter)
            self.session.mount("https://", adapter)

    @classmethod
    def for_upstream(cls, upstream, **options) -> "UpstreamClient":
        # An organization's own base URL was typed by one of its admins; the default one is the operator's.
        options.setdefault("guarded", bool(upstream.base_url))
        return cls(upstream.effective_url, upstream.customer_id, upstream.customer_secret, **options)

    # HTTP -------------------------------------------------------------------------------------

    def get_json(self, path: str, params: dict | None = None) -> dict:
        url = f"{self.base_url.rstrip('/')}{path}"
        if self.guarded:
            try:
                egress.url_host_port(self.base_url)
            except egress.EgressRefused as error:
                raise UpstreamError(f"The upstream address is not accepted: {error}") from error
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            self._pace()
            self.attempts += 1
            try:
                response = self.session.get(url, params=params, timeout=self.timeout, allow_redirects=False)
            except egress.EgressRefused as error:  # asking again gets the same address
                raise UpstreamError(f"Cannot call the upstream at {self.base_url}: {error}") from error
            except TRANSIENT_ERRORS as error:
                if last:
                    reason = network_reason(error)
                    raise UpstreamError(f"Cannot reach the upstream at {self.base_url}: {reason}.") from error
                self._wait(attempt)
                continue
            except requests.RequestException as error:  # a bad URL...: retrying won't help
                raise UpstreamError(
                    f"Cannot call the upstream at {self.base_url}: the request cannot be made."
                ) from error
            status = response.status_code
            if status == 429 or status >= 500:
                if last:
                    raise UpstreamError(f"The upstream answered {status_text(status)}.")
                self._wait(attempt, response.headers.get("Retry-After"))
                continue
            if status >= 400:
                raise UpstreamError(f"The upstream refused the request: {status_text(status)}.")
            if status >= 300:
                raise UpstreamError(
                    f"The upstream answered {status_text(status)}, a redirect, which is not followed: "
                    "enter the address it leads to as the base URL."
                )
            try:
                return response.json()
            except ValueError as error:
                # A body that does not parse is a cut or garbled transfer, as transient as a dropped connection.
                if last:
                    raise UpstreamError("The upstream answered something that is not JSON.") from error
                self._wait(attempt)
        raise AssertionError("unreachable")

    def send_json(self, method: str, path: str, body: dict, *, retry: bool | None = None) -> dict:
        """`method` (POST, PUT or DELETE) with `body` as JSON; the answer, a JSON object.

        PUT and DELETE are retried as GETs are (connection errors, timeouts, 429, 5xx, with back-off): doing one
        twice is doing it once. A POST is not retried blindly: only when the upstream surely did nothing (the
        connection could not be made, or 429). When it may have acted without saying so (no answer in time, the
        connection broke once the request was sent, 504, a success whose body is not JSON) OutcomeUnknown is
        raised and the caller finds out (for kicking rules: by listing them). `retry=True` retries a POST like a
        PUT, for requests that are harmless to repeat. Another 4xx or 5xx raises UpstreamRefused with its status.
        """
        method = method.upper()
        if method not in ("POST", "PUT", "DELETE"):
            raise ValueError(f"send_json writes (POST, PUT, DELETE), not {method}")
        repeatable = method != "POST" if retry is None else retry
        url = f"{self.base_url.rstrip('/')}{path}"
        if self.guarded:
            try:
                egress.url_host_port(self.base_url)
            except egress.EgressRefused as error:
                raise UpstreamError(f"The upstream address is not accepted: {error}") from error
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            self.attempts += 1
            try:
                response = self.session.request(method, url, json=body, timeout=self.timeout, allow_redirects=False)
            except egress.EgressRefused as error:
                raise UpstreamError(f"Cannot call the upstream at {self.base_url}: {error}") from error
            except TRANSIENT_ERRORS as error:
                reason = network_reason(error)
                if not repeatable and not never_sent(error):
                    raise OutcomeUnknown(
                        f"The upstream at {self.base_url} did not answer ({reason}): whether it acted is unknown."
                    ) from error
                if last:
                    raise UpstreamError(f"Cannot reach the upstream at {self.base_url}: {reason}.") from error
                self._wait(attempt)
                continue
            except requests.RequestException as error:
                raise UpstreamError(
                    f"Cannot call the upstream at {self.base_url}: the request cannot be made."
                ) from error
            status = response.status_code
            if status == 504 and not repeatable:
                raise OutcomeUnknown(f"The upstream answered {status_text(status)}: whether it acted is unknown.")
            if status == 429 or (status >= 500 and repeatable):
                if last:
                    raise UpstreamRefused(f"The upstream answered {status_text(status)}.", status)
                self._wait(attempt, response.headers.get("Retry-After"))
                continue
            if status >= 400:
                raise UpstreamRefused(f"The upstream refused the request: {status_text(status)}.", status)
            if status >= 300:
                raise UpstreamError(
                    f"The upstream answered {status_text(status)}, a redirect, which is not followed: "
                    "enter the address it leads to as the base URL."
                )
            try:
                data = response.json()
            except ValueError as error:
                data, problem = None, error
            else:
                problem = None
            if isinstance(data, dict):
                return data
            if not repeatable:
                raise OutcomeUnknown(
                    "The upstream said yes with an answer that is not a JSON object: whether it acted is unknown."
                ) from problem
            if last:
                raise UpstreamError("The upstream answered something that is not a JSON object.") from problem
            self._wait(attempt)
        raise AssertionError("unreachable")

    # Kicking rules (Agora's /dev/v1/kicking-rule): bodies as Agora takes them, answers checked ------------

    def create_kicking_rule(self, body: dict, *, retry: bool = False) -> int:
        """POST a rule; the id the upstream gave it. OutcomeUnknown when it may exist without our knowing its id
        (then `kicking_rules` finds it). `retry=True` for a one-shot kick (time 0), harmless to send twice."""
        data = self.send_json("POST", KICKING_RULE_PATH, body, retry=retry)
        _succeeded(data, "the rule")
        return _rule_id(data.get("id"), "the new rule")

    def kicking_rules(self, app_id: str) -> list[UpstreamRule]:
        """The rules in force for the App ID, as the upstream lists them (Agora: possibly incomplete)."""
        data = self.get_json(KICKING_RULE_PATH, {"appid": app_id})
        if not isinstance(data, dict):
            raise UpstreamError("The upstream's rule list is not a JSON object.")
        _succeeded(data, "the rule list")
        rules = data.get("rules")
        if not isinstance(rules, list):
            raise UpstreamError('The upstream\'s rule list has no "rules" list.')
        return [_upstream_rule(entry) for entry in rules]

    def update_kicking_rule(self, body: dict) -> datetime | None:
        """PUT a rule's new duration ({appid, id, time | time_in_seconds}); its new expiry as the upstream
        says it (None when the answer names the rule but no time it can read)."""
        data = self.send_json("PUT", KICKING_RULE_PATH, body)
        _succeeded(data, "the new duration")
        result = data.get("result")
        if not isinstance(result, dict) or _rule_id(result.get("id"), "the new duration") != body["id"]:
            raise UpstreamError("The upstream's answer to the new duration does not name the rule.")
        return _upstream_moment(result.get("ts"))

    def delete_kicking_rule(self, body: dict) -> None:
        """DELETE a rule ({appid, id})."""
        data = self.send_json("DELETE", KICKING_RULE_PATH, body)
        _succeeded(data, "the removal")
        if _rule_id(data.get("id"), "the removal") != body["id"]:
            raise UpstreamError("The upstream's answer to the removal names another rule.")

    def _wait(self, attempt: int, retry_after: str | None = None) -> None:
        delay = min(self.max_backoff, self.backoff * 2**attempt) * random.uniform(0.5, 1.0)
        if retry_after is not None:
            try:
                delay = max(delay, min(float(retry_after), MAX_RETRY_AFTER))
            except ValueError:
                pass
        self.sleep(delay)

    # The two calls the console makes ---------------------------------------------------------

    def projects(self) -> list[dict]:
        data = self.get_json("/dev/v1/projects")
        projects = data.get("projects") if isinstance(data, dict) else None
        if not isinstance(projects, list) or not all(
            isinstance(p, dict) and isinstance(p.get("id"), str) and isinstance(p.get("vendor_key"), str)
            for p in projects
        ):
            raise UpstreamError("The upstream's project list does not have the expected shape.")
        return projects

    def usage(self, project_id: str, day_from: date, day_to: date, business: str = "default") -> dict[date, dict]:
        """Seconds per our tier column for each day the upstream reported, validated."""
        params = {
            "project_id": project_id,
            "from_date": day_from.isoformat(),
            "to_date": day_to.isoformat(),
            "business": business,
        }
        return validate_usage(self.get_json("/dev/v3/usage", params), day_from, day_to)

    # Agora's channel queries and call analytics (reference 4.1, 4.2 and 3.2 to 3.4) ---------------
    # Paths and limits from network.agora_shapes, which also writes these answers for the console's own
    # endpoints and the sandbox. `min_interval` paces the requests (Agora limits them per second).

    def online_channels(self, app_id: str) -> dict[str, int]:
        """Every online channel of the App ID with its user count, all pages of 500. Channels come and go
        between pages: one listed twice counts once (its last count); one missed is the caller's to check."""
        size = agora_shapes.CHANNEL_PAGE_SIZE[1]
        channels: dict[str, int] = {}
        for page_no in range(MAX_PAGES):
            params = {"page_no": page_no, "page_size": size}
            rows, total = read_channel_page(self.get_json(f"/dev/v1/channel/{_segment(app_id)}", params))
            channels.update(rows)
            if len(rows) < size or (page_no + 1) * size >= total:
                return channels
        raise UpstreamError(f"The upstream's channel list goes on past {MAX_PAGES} pages.")

    def channel_users(self, app_id: str, channel_name: str) -> "ChannelUsers":
        path = f"/dev/v1/channel/user/{_segment(app_id)}/{_segment(channel_name)}"
        return read_channel_users(self.get_json(path))

    def calls(self, app_id: str, start: datetime, end: datetime, *, span: timedelta = LIST_SPAN) -> list["CallEntry"]:
        """The calls Agora Analytics lists from `start` to `end`, asked in windows no longer than `span` (the
        plan's limit), all pages of 100. A call found in two windows is returned once."""
        size = agora_shapes.ANALYTICS_PAGE_SIZE[1]
        found: dict[str, CallEntry] = {}
        for start_ts, end_ts in time_spans(start, end, span):
            query = {"appid": app_id, "start_ts": start_ts, "end_ts": end_ts}
            for entries in self._analytics_pages("/beta/analytics/call/lists", query, "call_lists", size):
                found.update((entry.call_id, entry) for entry in map(read_call, entries))
        return list(found.values())

    def call_sessions(
        self, app_id: str, call_id: str, start: datetime, end: datetime, *, span: timedelta = DETAIL_SPAN
    ) -> list["SessionEntry"]:
        """The sessions (users' stays) of a call, asked in windows no longer than `span`, all pages of 100.
        A session seen in several windows is returned once, as the last window saw it."""
        size = agora_shapes.ANALYTICS_PAGE_SIZE[1]
        found: dict[str, SessionEntry] = {}
        for start_ts, end_ts in time_spans(start, end, span):
            query = {"appid": app_id, "call_id": call_id, "start_ts": start_ts, "end_ts": end_ts}
            for entries in self._analytics_pages("/beta/analytics/call/sessions", query, "call_info", size):
                found.update((entry.sid, entry) for entry in map(read_session, entries))
        return list(found.values())

    def call_metrics(
        self,
        app_id: str,
        call_id: str,
        start: datetime,
        end: datetime,
        sids: list[str],
        *,
        span: timedelta = DETAIL_SPAN,
    ) -> "Metrics":
        """The metric series of the sessions `sids`: 20 sessions a request, windows no longer than `span`,
        the points of one series from all windows in time order."""
        batch = agora_shapes.MAX_METRIC_SIDS
        series: Metrics = {sid: {} for sid in sids}
        for start_ts, end_ts in time_spans(start, end, span):
            for first in range(0, len(sids), batch):
                asked = sids[first : first + batch]
                params = {"appid": app_id, "call_id": call_id, "start_ts": start_ts, "end_ts": end_ts}
                answer = self._analytics("/beta/analytics/call/metrics", {**params, "sids": ",".join(asked)})
                for sid, items in read_metrics(answer, asked).items():
                    for key, points in items.items():
                        series[sid].setdefault(key, []).extend(points)
        return {sid: {key: _in_time_order(points) for key, points in items.items()} for sid, items in series.items()}

    def _analytics_pages(self, path: str, query: dict, rows: str, size: int):
        """The `rows` list of each page of an analytics answer, from page 1 until the last."""
        for page_no in range(1, MAX_PAGES + 1):
            body = self._analytics(path, {**query, "page_no": page_no, "page_size": size})
            entries = body.get(rows)
            if not isinstance(entries, list):
                raise UpstreamError(f'The upstream\'s analytics answer has no "{rows}" list.')
            yield entries
            if len(entries) < size or not _has_more(body, page_no, size):
                return
        raise UpstreamError(f"The upstream's analytics answer goes on past {MAX_PAGES} pages.")

    def _analytics(self, path: str, params: dict) -> dict:
        """An analytics answer whose code says it succeeded. Agora's "qps limit error" (code 300 in an answer
        of status 200) is waited out and asked again, as a 429 is; its other refusals are errors."""
        for attempt in range(self.retries + 1):
            data = self.get_json(path, params)
            if attempt < self.retries and isinstance(data, dict) and _limit_message(data) == QPS_LIMIT:
                self._wait(attempt, "1")
                continue
            return read_analytics(data)
        raise AssertionError("unreachable")

    def _pace(self) -> None:
        """Wait until `min_interval` seconds have passed since the last request."""
        if self.min_interval <= 0:
            return
        now = time.monotonic()
        if self._last_request is not None and now - self._last_request < self.min_interval:
            self.sleep(self.min_interval - (now - self._last_request))
        self._last_request = time.monotonic()


def status_text(status: int) -> str:
    """The code with its standard reason ("404 Not Found"), not the words the upstream sent along."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def never_sent(error: Exception) -> bool:
    """True when the request surely never reached the upstream: the connection itself could not be made."""
    kinds = (
        requests.exceptions.ConnectTimeout,
        urllib3.exceptions.NewConnectionError,
        urllib3.exceptions.ConnectTimeoutError,
        urllib3.exceptions.NameResolutionError,
        ConnectionRefusedError,
        socket.gaierror,
    )
    return any(isinstance(cause, kinds) for cause in _causes(error))


def network_reason(error: Exception) -> str:
    """What failed on the way to the upstream, in our words: exception texts can quote what the other end sent
    (a status line, a banner, a chunk header), so they are never shown."""
    causes = _causes(error)

    def found(*kinds) -> bool:
        return any(isinstance(cause, kinds) for cause in causes)

    if found(urllib3.exceptions.NameResolutionError, socket.gaierror):
        return "the host name does not resolve"
    if found(ConnectionRefusedError):
        return "connection refused"
    if found(requests.Timeout, TimeoutError):
        return "no answer in time"
    if found(requests.exceptions.SSLError, ssl.SSLError):
        return "the TLS connection failed (is its certificate valid?)"
    if found(http.client.BadStatusLine) and not found(http.client.RemoteDisconnected):
        return "the answer is not HTTP"
    if found(requests.exceptions.ChunkedEncodingError, urllib3.exceptions.ProtocolError):
        return "the connection broke off"
    return "the connection failed"


def _causes(error: BaseException) -> list[BaseException]:
    """The error and those behind it: its cause and context, a urllib3 error's reason, exceptions in its args."""
    found: list[BaseException] = []
    todo: list = [error]
    while todo and len(found) < 30:
        current = todo.pop()
        if not isinstance(current, BaseException) or any(current is seen for seen in found):
            continue
        found.append(current)
        todo += [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
    return found


def validate_usage(data, day_from: date, day_to: date) -> dict[date, dict]:
    """The usage answer as {day: {column: seconds}}, or UpstreamError if anything is off."""
    entries = data.get("usages") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise UpstreamError('The usage answer has no "usages" list.')
    days: dict[date, dict] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("usage"), dict):
            raise UpstreamError("A usage entry does not have the expected shape.")
        day = _entry_day(entry.get("date"))
        if not day_from <= day <= day_to:
            raise UpstreamError(f"The upstream reported {day}, outside the asked window {day_from}..{day_to}.")
        if day in days:
            raise UpstreamError(f"The upstream reported {day} twice.")
        row = {}
        for name, column in DURATION_FIELDS.items():
            value = entry["usage"].get(name, 0)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SECONDS:
                raise UpstreamError(f"{name} on {day} is not a non-negative whole number of seconds.")
            row[column] = value
        days[day] = row
    return days


def _entry_day(value) -> date:
    if not isinstance(value, str):
        raise UpstreamError("A usage date is not text.")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        raise UpstreamError("A usage date cannot be read.") from None


# Agora's channel and call analytics answers, read back (network.agora_shapes writes them) ------------------
# Each reader returns clean values or raises UpstreamError saying what is off, never quoting what was sent.


@dataclass(frozen=True)
class ChannelUsers:
    """Who is in a channel (/dev/v1/channel/user). `audience_complete` is false when Agora listed only the first
    10,000 audience members: the others are there but unnamed."""

    exists: bool
    communication: tuple[int, ...] = ()  # a channel in the communication profile (mode 1): its users
    hosts: tuple[int, ...] = ()  # a live channel (mode 2): its broadcasters and audience
    audience: tuple[int, ...] = ()
    audience_complete: bool = True


@dataclass(frozen=True)
class CallEntry:
    """A call as /beta/analytics/call/lists describes it; figures the upstream left out are None."""

    call_id: str
    channel_name: str
    started_at: datetime
    ended_at: datetime | None
    finished: bool
    peak_users: int | None
    accumulated_users: int | None
    audio_freeze_rate: float | None
    video_freeze_rate: float | None


@dataclass(frozen=True)
class SessionEntry:
    """One user's stay in a call (/beta/analytics/call/sessions)."""

    sid: str
    uid: int
    account: str
    network: str
    platform: str
    region: str
    speaker: bool
    roles: tuple[str, ...]
    sdk_version: str
    device_type: str
    joined_at: datetime
    left_at: datetime | None
    finished: bool
    audio_freeze_rate: float | None
    video_freeze_rate: float | None


# sid -> (mid, peer_uid) -> [[unix seconds, value], ...] in time order
Metrics = dict[str, dict[tuple[int, int], list[list]]]


def time_spans(start: datetime, end: datetime, span: timedelta) -> list[tuple[int, int]]:
    """[start, end] as Unix-second windows no longer than `span`, each starting where the last ended."""
    first, last, step = math.floor(start.timestamp()), math.ceil(end.timestamp()), int(span.total_seconds())
    if step <= 0:
        raise ValueError("span must be at least a second")
    return [(at, min(at + step, last)) for at in range(first, last, step)]


def _segment(text: str) -> str:
    return quote(text, safe="")


def _whole(value, low: int = 0, high: int = 2**63 - 1) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _channel_name(value) -> bool:
    return isinstance(value, str) and 0 < len(value.encode()) <= MAX_CHANNEL_NAME


def _success_data(data, what: str) -> dict:
    """The `data` of a /dev/v1 answer ({"success": true, "data": {...}})."""
    if not isinstance(data, dict) or not isinstance(data.get("success"), bool):
        raise UpstreamError(f"The upstream's {what} does not have the expected shape.")
    if not data["success"]:
        raise UpstreamError(f"The upstream answered the {what} without success.")
    if not isinstance(data.get("data"), dict):
        raise UpstreamError(f'The upstream\'s {what} has no "data".')
    return data["data"]


def read_channel_page(data) -> tuple[dict[str, int], int]:
    """One page of /dev/v1/channel: {channel name: user count} and the total number of channels."""
    body = _success_data(data, "channel list")
    channels, total = body.get("channels"), body.get("total_size")
    if not isinstance(channels, list) or not _whole(total):
        raise UpstreamError("The upstream's channel list does not have the expected shape.")
    rows: dict[str, int] = {}
    for item in channels:
        if not isinstance(item, dict) or not _channel_name(item.get("channel_name")):
            raise UpstreamError("The upstream's channel list names a channel without a valid name.")
        if not _whole(item.get("user_count")):
            raise UpstreamError("The upstream's channel list gives a user count that is not a whole number.")
        rows[item["channel_name"]] = item["user_count"]
    return rows, total


def _uids(value, what: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(_whole(uid, 0, agora_shapes.MAX_UID) for uid in value):
        raise UpstreamError(f"The upstream's user list of a channel has {what} that are not UIDs.")
    return tuple(dict.fromkeys(value))


def read_channel_users(data) -> ChannelUsers:
    """/dev/v1/channel/user: who is in the channel, by the channel's profile."""
    body = _success_data(data, "user list of a channel")
    exists = body.get("channel_exist")
    if not isinstance(exists, bool):
        raise UpstreamError("The upstream's user list of a channel does not say whether the channel exists.")
    if not exists:
        return ChannelUsers(False)
    mode = body.get("mode")
    if mode == agora_shapes.MODE_COMMUNICATION:
        return ChannelUsers(True, communication=_uids(body.get("users"), "users"))
    if mode != agora_shapes.MODE_LIVE:
        raise UpstreamError("The upstream's user list of a channel has an unknown channel profile (mode).")
    hosts = _uids(body.get("broadcasters", []), "broadcasters")
    audience = _uids(body.get("audience", []), "audience members")
    total = body.get("audience_total", len(audience))
    if not _whole(total):
        raise UpstreamError("The upstream's user list of a channel gives an audience total that is not a number.")
    return ChannelUsers(True, hosts=hosts, audience=audience, audience_complete=total <= len(audience))


def _limit_message(data: dict) -> str:
    message = data.get("message") if data.get("code") == ANALYTICS_REFUSED else None
    return message.strip().lower() if isinstance(message, str) else ""


def read_analytics(data) -> dict:
    """An analytics answer as a dict whose `code` (when there is one) says it succeeded."""
    if not isinstance(data, dict):
        raise UpstreamError("The upstream's analytics answer does not have the expected shape.")
    code = data.get("code", 200)
    if code in ANALYTICS_SUCCESS and not isinstance(code, bool):
        return data
    if code == ANALYTICS_REFUSED:
        reason = ANALYTICS_LIMITS.get(_limit_message(data), "a limit of its plan was reached")
        raise UpstreamError(f"The upstream's analytics API refused the query: {reason}.")
    if _whole(code):
        raise UpstreamError(f"The upstream's analytics API answered code {code}, not success.")
    raise UpstreamError("The upstream's analytics answer has a code that is not a number.")


def _has_more(body: dict, page_no: int, size: int) -> bool:
    if isinstance(body.get("has_more"), bool):
        return body["has_more"]
    total = body.get("total_size")
    return _whole(total) and page_no * size < total


def _moment(value, what: str) -> datetime:
    if not _whole(value, 1, 253402300799):  # up to 9999-12-31
        raise UpstreamError(f"The upstream's analytics answer gives {what} that is not a Unix time.")
    return datetime.fromtimestamp(value, UTC)


def _end(entry: dict, name: str, start: datetime, what: str) -> datetime | None:
    """An end time, absent (0 or null) while it goes on; never before its start."""
    if entry.get(name) in (None, 0):
        return None
    end = _moment(entry[name], what)
    if end < start:
        raise UpstreamError(f"The upstream's analytics answer has {what} before its start.")
    return end


def _flag(entry: dict, name: str, what: str, default: bool | None = None) -> bool:
    value = entry.get(name, default)
    if not isinstance(value, bool):
        raise UpstreamError(f"The upstream's analytics answer has {what} that is not true or false.")
    return value


def _optional_count(entry: dict, name: str) -> int | None:
    value = entry.get(name)
    if value is None:
        return None
    if not _whole(value, 0, 2**31 - 1):
        raise UpstreamError(f"The upstream's analytics answer has a {name} that is not a whole number.")
    return value


def _optional_rate(entry: dict, name: str) -> float | None:
    """A freeze rate: a fraction from 0 to 1 (0.03 is 3%)."""
    value = entry.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise UpstreamError(f"The upstream's analytics answer has a {name} that is not a fraction from 0 to 1.")
    return float(value)


def _text(entry: dict, name: str, *, required: bool = False, limit: int = 255) -> str:
    value = entry.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value) or len(value) > limit:
        raise UpstreamError(f"The upstream's analytics answer has a {name} that is not valid text.")
    return value


def read_call(entry) -> CallEntry:
    if not isinstance(entry, dict):
        raise UpstreamError("The upstream's call list has an entry that is not an object.")
    if not _channel_name(entry.get("cname")):
        raise UpstreamError("The upstream's call list has a call without a valid channel name.")
    started = _moment(entry.get("created_ts"), "a call start")
    ended = _end(entry, "destroyed_ts", started, "a call end")
    finished = _flag(entry, "finished", "a call's finished flag", default=ended is not None)
    if finished and ended is None:
        raise UpstreamError("The upstream's call list has a finished call without an end.")
    return CallEntry(
        call_id=_text(entry, "call_id", required=True, limit=64),
        channel_name=entry["cname"],
        started_at=started,
        ended_at=ended if finished else None,
        finished=finished,
        peak_users=_optional_count(entry, "call_pcu"),
        accumulated_users=_optional_count(entry, "call_acu"),
        audio_freeze_rate=_optional_rate(entry, "call_audio_freeze_rate"),
        video_freeze_rate=_optional_rate(entry, "call_video_freeze_rate"),
    )


def _roles(value) -> tuple[str, ...]:
    """`roles` is typed a string in Agora's reference and an array in its example: both are read."""
    if value is None:
        return ()
    items = [part.strip() for part in value.split(",")] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(role, str) and len(role) <= 64 for role in items):
        raise UpstreamError("The upstream's analytics answer has roles that are not a list of names.")
    return tuple(role for role in items if role)


def read_session(entry) -> SessionEntry:
    if not isinstance(entry, dict):
        raise UpstreamError("The upstream's session list has an entry that is not an object.")
    if not _whole(entry.get("uid"), 0, agora_shapes.MAX_UID):
        raise UpstreamError("The upstream's session list has a session whose uid is not a UID.")
    joined = _moment(entry.get("join_ts"), "a join time")
    left = _end(entry, "leave_ts", joined, "a leave time")
    return SessionEntry(
        sid=_text(entry, "sid", required=True, limit=64),
        uid=entry["uid"],
        account=_text(entry, "account"),
        network=_text(entry, "network"),
        platform=_text(entry, "platform"),
        region=_text(entry, "region"),
        speaker=_flag(entry, "speaker", "a speaker flag", default=False),
        roles=_roles(entry.get("roles")),
        sdk_version=_text(entry, "sdk_version"),
        device_type=_text(entry, "device_type", limit=1000),
        joined_at=joined,
        left_at=left,
        finished=_flag(entry, "finished", "a session's finished flag", default=left is not None),
        audio_freeze_rate=_optional_rate(entry, "user_audio_freeze_rate"),
        video_freeze_rate=_optional_rate(entry, "user_video_freeze_rate"),
    )


def _point(value) -> list | None:
    """[unix seconds, value]; None for a sample without a value (a gap)."""
    if not isinstance(value, list) or len(value) != 2 or not _whole(value[0], 0, 253402300799):
        raise UpstreamError("The upstream's metrics have a point that is not [time, value].")
    if value[1] is None:
        return None
    number = value[1]
    if isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(number):
        raise UpstreamError("The upstream's metrics have a value that is not a number.")
    return [value[0], number]


def read_metrics(data, asked: list[str]) -> Metrics:
    """/beta/analytics/call/metrics for the sessions `asked`: sid -> (mid, peer_uid) -> points."""
    items = read_analytics(data).get("metrics")
    if not isinstance(items, list):
        raise UpstreamError('The upstream\'s metrics answer has no "metrics" list.')
    wanted = set(asked)
    series: Metrics = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("data"), list):
            raise UpstreamError("The upstream's metrics answer has an entry without its data.")
        if item.get("sid") not in wanted:
            raise UpstreamError("The upstream's metrics answer has a session it was not asked about.")
        mine = series.setdefault(item["sid"], {})
        for one in item["data"]:
            if not isinstance(one, dict) or not _whole(one.get("mid"), 1, 2**31 - 1):
                raise UpstreamError("The upstream's metrics answer has a series without a valid metric id.")
            peer = one.get("peer_uid", 0)
            if not _whole(peer, 0, agora_shapes.MAX_UID) or not isinstance(one.get("kvs"), list):
                raise UpstreamError("The upstream's metrics answer has a series without a peer UID or points.")
            points = [point for point in map(_point, one["kvs"]) if point is not None]
            mine.setdefault((one["mid"], peer), []).extend(points)
    return series


def _in_time_order(points: list[list]) -> list[list]:
    """The points by time, one per second (windows meet at their ends: a point there comes twice)."""
    return [[at, value] for at, value in sorted(dict((at, value) for at, value in points).items())]
