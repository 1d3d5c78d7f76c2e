"""The one HTTP client for usage upstreams (Agora's RESTful API or the sandbox).

Timeouts, HTTP Basic auth, retries with exponential backoff and jitter on connection errors, timeouts,
bodies cut short or not JSON, 429 (honouring Retry-After, capped) and 5xx; no retry on other 4xx.
Responses are validated before anyone uses them: a bad response raises UpstreamError and nothing is written.
"""

import random
import time
from dataclasses import dataclass, field
from datetime import date, datetime

import requests
from django.conf import settings

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

    def __post_init__(self):
        self.session = requests.Session()
        self.session.auth = (self.customer_id, self.customer_secret)
        self.session.headers["Accept"] = "application/json"

    @classmethod
    def for_upstream(cls, upstream, **options) -> "UpstreamClient":
        return cls(upstream.effective_url, upstream.customer_id, upstream.customer_secret, **options)

    # HTTP -------------------------------------------------------------------------------------

    def get_json(self, path: str, params: dict | None = None) -> dict:
        url = f"{self.base_url.rstrip('/')}{path}"
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            self.attempts += 1
            try:
                response = self.session.get(url, params=params, timeout=self.timeout)
            except TRANSIENT_ERRORS as error:
                if last:
                    raise UpstreamError(f"Cannot reach the upstream at {self.base_url}: {error}") from error
                self._wait(attempt)
                continue
            except requests.RequestException as error:  # a bad URL, too many redirects...: retrying won't help
                raise UpstreamError(f"Cannot call the upstream at {self.base_url}: {error}") from error
            if response.status_code == 429 or response.status_code >= 500:
                if last:
                    raise UpstreamError(f"The upstream answered {response.status_code} {_message(response)}")
                self._wait(attempt, response.headers.get("Retry-After"))
                continue
            if response.status_code >= 400:
                raise UpstreamError(f"The upstream refused the request: {response.status_code} {_message(response)}")
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


def _message(response) -> str:
    try:
        return str(response.json().get("message", ""))[:200]
    except (ValueError, AttributeError):
        return response.text[:200]


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
                raise UpstreamError(f"{name} on {day} is not a non-negative whole number of seconds: {value!r}.")
            row[column] = value
        days[day] = row
    return days


def _entry_day(value) -> date:
    if not isinstance(value, str):
        raise UpstreamError(f"A usage date is not text: {value!r}.")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        raise UpstreamError(f"A usage date cannot be read: {value!r}.") from None
