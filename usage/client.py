"""The one HTTP client for usage upstreams (Agora's RESTful API or the sandbox).

Timeouts, HTTP Basic auth, retries with exponential backoff and jitter on connection errors, timeouts,
bodies cut short or not JSON, 429 (honouring Retry-After, capped) and 5xx; no retry on other 4xx.
Responses are validated before anyone uses them: a bad response raises UpstreamError and nothing is written.
Redirects are not followed. Error messages say the status or what failed in our own words, never what the
upstream answered: they are shown to users and stored. A base URL a user typed goes through the egress guard.
"""

import http.client
import random
import socket
import ssl
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from http import HTTPStatus

import requests
import urllib3.exceptions
from django.conf import settings

from . import egress
from .models import DURATION_FIELDS

MAX_RETRY_AFTER = 60.0
MAX_SECONDS = 2**63 - 1  # what a DailyUsage column (bigint) holds
# Worth another try: the network failed, the answer took too long, or its body was cut short.
TRANSIENT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


class UpstreamError(Exception):
    """The upstream could not be reached or answered something unusable; the message says which."""


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


def status_text(status: int) -> str:
    """The code with its standard reason ("404 Not Found"), not the words the upstream sent along."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


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
