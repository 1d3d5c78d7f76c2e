"""The upstream HTTP client over real sockets: a tiny scripted HTTP server in a thread, and the sandbox.

Nothing really waits: the client's `sleep` records the back-off delays instead of sleeping them.
"""

import base64
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from usage.client import MAX_RETRY_AFTER, UpstreamClient, UpstreamError, validate_usage

DAY = date(2025, 3, 10)
SIX = {
    "durationAudioAll": 779,
    "durationVideoHd": 60,
    "durationVideo1080P": 5,
    "durationVideo2K": 4,
    "durationVideo4K": 3,
    "durationVideoHdp": 2,
}
COLUMNS = {"audio": 779, "video_hd": 60, "video_full_hd": 5, "video_2k": 4, "video_2k_plus": 3, "video_hd_plus": 2}


@dataclass
class Reply:
    status: int = 200
    body: object = None  # JSON-encoded unless bytes or str
    headers: dict = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering
    hang_up: bool = False  # close the connection without answering
    short_by: int = 0  # announce this many bytes more than are sent, then close (a cut transfer)


@dataclass
class Seen:
    path: str
    query: dict
    headers: dict


class FakeUpstream:
    """An HTTP server on 127.0.0.1:<free port>; `answer(seen) -> Reply` decides every reply."""

    def __init__(self, answer: Callable[[Seen], Reply]):
        self.answer = answer
        self.seen: list[Seen] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_GET(self):  # noqa: N802  (http.server's name)
                parts = urlsplit(self.path)
                seen = Seen(parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}, dict(self.headers))
                fake.seen.append(seen)
                reply = fake.answer(seen)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.hang_up:
                    self.close_connection = True
                    return
                body = reply.body
                if not isinstance(body, bytes | str):
                    body = json.dumps(body)
                body = body.encode() if isinstance(body, str) else body
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body) + reply.short_by))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test)
                if reply.short_by:
                    self.close_connection = True

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def scripted(*replies: Reply) -> Callable[[Seen], Reply]:
    """Answer with the replies in turn, the last one for ever after."""
    queue = list(replies)

    def answer(seen):
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return answer


def usage_body(*days: date, usage: dict | None = None) -> dict:
    return {
        "meta": {},
        "usages": [{"date": f"{day.isoformat()}T00:00:00.000Z", "usage": dict(usage or SIX)} for day in days],
    }


class Sleeps(list):
    """Stands in for time.sleep: remembers each delay asked for."""

    def __call__(self, seconds):
        self.append(seconds)


def client_for(fake, **options) -> UpstreamClient:
    options = {"timeout": 2.0, "retries": 3, "sleep": Sleeps(), **options}
    return UpstreamClient(fake.url, "customer-id", "customer-secret", **options)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Requests made ---------------------------------------------------------------------------------


def test_usage_asks_with_basic_auth_and_the_window_and_maps_fields_to_columns(upstream):
    fake = upstream(scripted(Reply(body=usage_body(DAY, DAY + timedelta(days=1)))))
    client = UpstreamClient(fake.url + "/", "customer-id", "customer-secret", timeout=2.0, retries=0)
    days = client.usage("p1", DAY, DAY + timedelta(days=2), "cloudRecording")
    assert days == {DAY: COLUMNS, DAY + timedelta(days=1): COLUMNS}  # a day not reported is simply absent
    [seen] = fake.seen
    assert seen.path == "/dev/v3/usage"
    assert seen.query == {
        "project_id": "p1",
        "from_date": "2025-03-10",
        "to_date": "2025-03-12",
        "business": "cloudRecording",
    }
    assert seen.headers["Authorization"] == "Basic " + base64.b64encode(b"customer-id:customer-secret").decode()
    assert client.attempts == 1


def test_projects_lists_the_upstream_projects(upstream):
    listing = [{"id": "abc", "vendor_key": "0" * 32, "name": "One"}]
    fake = upstream(scripted(Reply(body={"projects": listing})))
    assert client_for(fake).projects() == listing
    assert fake.seen[0].path == "/dev/v1/projects"


@pytest.mark.parametrize(
    "body",
    [{}, {"projects": "none"}, {"projects": [{"id": 1, "vendor_key": "x"}]}, {"projects": [{"id": "a"}]}, [1]],
)
def test_a_project_list_of_the_wrong_shape_is_refused(upstream, body):
    with pytest.raises(UpstreamError, match="expected shape"):
        client_for(upstream(scripted(Reply(body=body)))).projects()


# Retries ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_5xx_and_429_are_retried_with_exponential_backoff_until_an_answer_comes(upstream, status):
    fake = upstream(scripted(Reply(status), Reply(status), Reply(status), Reply(body=usage_body(DAY))))
    client = client_for(fake, backoff=0.5, retries=3)
    assert client.usage("p1", DAY, DAY) == {DAY: COLUMNS}
    assert client.attempts == 4 and len(fake.seen) == 4
    sleeps = client.sleep
    assert len(sleeps) == 3
    for attempt, delay in enumerate(sleeps):  # 0.5 * 2**attempt, with jitter taking off up to half
        assert 0.25 * 2**attempt <= delay <= 0.5 * 2**attempt


def test_backoff_is_capped(upstream):
    fake = upstream(scripted(Reply(503)))
    client = client_for(fake, backoff=1.0, max_backoff=2.0, retries=5)
    with pytest.raises(UpstreamError):
        client.usage("p1", DAY, DAY)
    assert max(client.sleep) <= 2.0 and client.sleep[-1] >= 1.0


def test_giving_up_after_the_last_retry_says_the_status_not_the_upstreams_words(upstream):
    fake = upstream(scripted(Reply(503, {"message": "down for maintenance"})))
    client = client_for(fake, retries=2)
    with pytest.raises(UpstreamError, match="answered 503 Service Unavailable") as raised:
        client.usage("p1", DAY, DAY)
    assert "maintenance" not in str(raised.value)
    assert client.attempts == 3 and len(fake.seen) == 3
    assert len(client.sleep) == 2  # no pointless wait after the last attempt


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [("7", 7.0), ("2.5", 2.5), ("3600", MAX_RETRY_AFTER), ("soon", None), ("-4", None)],
)
def test_429_honours_retry_after_within_a_cap(upstream, retry_after, expected):
    fake = upstream(
        scripted(Reply(429, {"message": "slow down"}, {"Retry-After": retry_after}), Reply(body=usage_body(DAY)))
    )
    client = client_for(fake, backoff=0.5)
    assert client.usage("p1", DAY, DAY) == {DAY: COLUMNS}
    [delay] = client.sleep
    if expected is None:  # unreadable or negative: the usual backoff
        assert 0.25 <= delay <= 0.5
    else:
        assert delay == expected


@pytest.mark.parametrize(
    ("status", "message"), [(400, "bad from_date"), (401, "Invalid credentials"), (404, "no such project")]
)
def test_other_4xx_are_not_retried(upstream, status, message):
    fake = upstream(scripted(Reply(status, {"message": message})))
    client = client_for(fake)
    with pytest.raises(UpstreamError, match=f"refused the request: {status} ") as raised:
        client.usage("p1", DAY, DAY)
    assert message not in str(raised.value)
    assert client.attempts == 1 and len(fake.seen) == 1 and client.sleep == []


def test_connection_refused_is_retried_then_reported():
    client = UpstreamClient(f"http://127.0.0.1:{free_port()}", "id", "secret", timeout=1.0, retries=2, sleep=Sleeps())
    with pytest.raises(UpstreamError, match="Cannot reach the upstream"):
        client.usage("p1", DAY, DAY)
    assert client.attempts == 3 and len(client.sleep) == 2


def test_a_dropped_connection_is_retried(upstream):
    fake = upstream(scripted(Reply(hang_up=True), Reply(body=usage_body(DAY))))
    client = client_for(fake)
    assert client.usage("p1", DAY, DAY) == {DAY: COLUMNS}
    assert client.attempts == 2 and len(client.sleep) == 1


def test_a_body_cut_short_is_retried_not_raised_as_a_requests_error(upstream):
    fake = upstream(scripted(Reply(body=usage_body(DAY), short_by=50), Reply(body=usage_body(DAY))))
    client = client_for(fake)
    assert client.usage("p1", DAY, DAY) == {DAY: COLUMNS}
    assert client.attempts == 2


def test_a_body_that_is_not_json_is_retried_and_finally_refused(upstream):
    fake = upstream(scripted(Reply(body='{"meta": {'), Reply(body=usage_body(DAY))))
    client = client_for(fake)
    assert client.usage("p1", DAY, DAY) == {DAY: COLUMNS}
    assert client.attempts == 2

    fake = upstream(scripted(Reply(body="<html>gateway</html>")))
    client = client_for(fake, retries=2)
    with pytest.raises(UpstreamError, match="not JSON"):
        client.usage("p1", DAY, DAY)
    assert client.attempts == 3


def test_the_timeout_is_honoured_and_a_slow_answer_retried(upstream):
    fake = upstream(scripted(Reply(body=usage_body(DAY), delay=1.5)))
    client = client_for(fake, timeout=0.2, retries=2)
    started = time.monotonic()
    with pytest.raises(UpstreamError, match="Cannot reach the upstream"):
        client.usage("p1", DAY, DAY)
    elapsed = time.monotonic() - started
    assert client.attempts == 3 and len(fake.seen) == 3
    assert 0.6 <= elapsed < 1.4, elapsed  # three waits of 0.2 s, none of 1.5 s

    fake = upstream(scripted(Reply(body=usage_body(DAY), delay=1.5), Reply(body=usage_body(DAY), delay=0.05)))
    client = client_for(fake, timeout=0.5)
    assert client.usage("p1", DAY, DAY) == {DAY: COLUMNS}
    assert client.attempts == 2


def test_a_request_that_cannot_be_made_is_an_upstream_error_without_retries():
    client = UpstreamClient("htp://127.0.0.1:1", "id", "secret", timeout=1.0, retries=3, sleep=Sleeps())
    with pytest.raises(UpstreamError, match="Cannot call the upstream"):
        client.usage("p1", DAY, DAY)
    assert client.attempts == 1 and client.sleep == []


def test_attempts_add_up_over_calls(upstream):
    fake = upstream(scripted(Reply(500), Reply(body=usage_body(DAY)), Reply(body=usage_body(DAY))))
    client = client_for(fake)
    client.usage("p1", DAY, DAY)
    client.usage("p1", DAY, DAY)
    assert client.attempts == 3 == len(fake.seen)


# Validation -------------------------------------------------------------------------------------


def entry(day="2025-03-10T00:00:00.000Z", **usage):
    return {"date": day, "usage": {**SIX, **usage}}


BAD_ANSWERS = {
    "no usages": ({"meta": {}}, 'no "usages" list'),
    "usages not a list": ({"usages": {"2025-03-10": SIX}}, 'no "usages" list'),
    "a list, not an object": ([entry()], 'no "usages" list'),
    "entry without usage": ({"usages": [{"date": "2025-03-10T00:00:00.000Z"}]}, "expected shape"),
    "entry not an object": ({"usages": ["2025-03-10"]}, "expected shape"),
    "date before the window": ({"usages": [entry("2025-03-09T00:00:00.000Z")]}, "outside the asked window"),
    "date after the window": ({"usages": [entry("2025-03-12T00:00:00.000Z")]}, "outside the asked window"),
    "duplicate date": ({"usages": [entry(), entry("2025-03-10")]}, "twice"),
    "date not text": ({"usages": [entry(20250310)]}, "not text"),
    "date unreadable": ({"usages": [entry("10/03/2025")]}, "cannot be read"),
    "negative": ({"usages": [entry(durationVideoHd=-1)]}, "durationVideoHd"),
    "float": ({"usages": [entry(durationAudioAll=12.5)]}, "durationAudioAll"),
    "whole float": ({"usages": [entry(durationAudioAll=12.0)]}, "durationAudioAll"),
    "bool": ({"usages": [entry(durationVideo4K=True)]}, "durationVideo4K"),
    "string": ({"usages": [entry(durationVideo2K="12")]}, "durationVideo2K"),
    "null": ({"usages": [entry(durationVideoHdp=None)]}, "durationVideoHdp"),
    "too big for the column": ({"usages": [entry(durationVideo1080P=2**63)]}, "durationVideo1080P"),
}


@pytest.mark.parametrize("case", BAD_ANSWERS)
def test_a_bad_usage_answer_is_refused_without_retrying(upstream, case):
    body, message = BAD_ANSWERS[case]
    fake = upstream(scripted(Reply(body=body)))
    client = client_for(fake)
    with pytest.raises(UpstreamError, match=message):
        client.usage("p1", DAY, DAY + timedelta(days=1))
    assert client.attempts == 1  # the same question would get the same wrong answer


def test_one_bad_day_refuses_the_whole_answer():
    data = {"usages": [entry("2025-03-10"), entry("2025-03-11", durationAudioAll=-5)]}
    with pytest.raises(UpstreamError):
        validate_usage(data, DAY, DAY + timedelta(days=1))


def test_a_good_answer_validates_with_missing_fields_as_zero():
    data = {"usages": [{"date": "2025-03-10T00:00:00.000Z", "usage": {"durationAudioAll": 0, "durationVideoHd": 9}}]}
    assert validate_usage(data, DAY, DAY) == {
        DAY: {"audio": 0, "video_hd": 9, "video_full_hd": 0, "video_2k": 0, "video_2k_plus": 0, "video_hd_plus": 0}
    }
    assert validate_usage({"meta": {}, "usages": []}, DAY, DAY) == {}


# Against the sandbox ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_client_against_the_sandbox(acme, globex, live_server):
    upstream_row = acme.organization.upstream
    client = UpstreamClient(live_server.url + "/sandbox", upstream_row.customer_id, upstream_row.customer_secret)
    listed = {item["vendor_key"] for item in client.projects()}
    assert listed == {project.app_id for project in acme.projects}
    project = acme.projects[0]
    days = client.usage(project.project_id, date(2025, 1, 1), date(2025, 1, 31))
    assert sorted(days) == [date(2025, 1, d) for d in range(1, 32)]
    assert client.attempts == 2

    with pytest.raises(UpstreamError, match="404 Not Found"):
        client.usage(globex.projects[0].project_id, date(2025, 1, 1), date(2025, 1, 2))
    with pytest.raises(UpstreamError, match="400"):
        client.usage(project.project_id, date(2025, 1, 1), date(2026, 1, 5))  # more than a year
    assert client.attempts == 4

    wrong = UpstreamClient(live_server.url + "/sandbox", upstream_row.customer_id, "not-the-secret", sleep=Sleeps())
    with pytest.raises(UpstreamError, match="401"):
        wrong.projects()
    assert wrong.attempts == 1 and wrong.sleep == []
