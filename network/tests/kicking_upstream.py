"""An upstream that keeps kicking rules as Agora's /dev/v1/kicking-rule does (reference section 4.4), over real
HTTP on 127.0.0.1: a dict of rules, Agora's bodies and answers, and faults on demand. The kicking tests point
the organization's upstream at it."""

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

PATH = "/dev/v1/kicking-rule"


@dataclass
class Fault:
    """What the next request of `method` meets instead of a plain answer.

    status: answer this status (the rule is not touched), unless `act` is true (the rule is changed first);
    delay: seconds to wait before answering (after acting when `act`), longer than the client's timeout for a
    timeout; hook: called with the request's body before anything else (e.g. to start a second request)."""

    method: str
    status: int | None = None
    act: bool = False
    delay: float = 0.0
    hook: Callable[[dict], None] | None = None


@dataclass
class Seen:
    method: str
    body: dict
    query: dict
    authorization: str


@dataclass
class KickingUpstream:
    rules: dict = field(default_factory=dict)  # id -> Agora's rule object (ts etc. as datetimes)
    seen: list = field(default_factory=list)
    faults: list = field(default_factory=list)
    next_id: int = 1953
    url: str = ""

    def methods(self) -> list[str]:
        return [seen.method for seen in self.seen]

    def fault_for(self, method: str) -> Fault | None:
        for fault in self.faults:
            if fault.method == method:
                self.faults.remove(fault)
                return fault
        return None

    # Agora's behaviour ---------------------------------------------------------------------------------

    def act(self, method: str, body: dict, query: dict) -> tuple[int, dict]:
        now = datetime.now(UTC)
        if method == "GET":
            listed = [_shown(rule) for rule in self.rules.values() if rule["ts"] > now]
            return 200, {"status": "success", "rules": listed}
        if method == "POST":
            seconds = body.get("time_in_seconds")
            if seconds is None:
                seconds = 60 * body.get("time", 60)
            rule_id, self.next_id = self.next_id, self.next_id + 1
            if seconds:  # 0: a one-shot kick, nothing stays
                self.rules[rule_id] = {
                    "id": rule_id,
                    "appid": body["appid"],
                    "uid": body.get("uid"),
                    "opid": rule_id + 1000,
                    "cname": body.get("cname"),
                    "ip": body.get("ip"),
                    "ts": now + timedelta(seconds=seconds),
                    "privileges": body["privileges"],
                    "createAt": now,
                    "updateAt": now,
                }
            return 200, {"status": "success", "id": rule_id}
        rule = self.rules.get(body.get("id"))
        if rule is None:
            return 404, {"message": "rule not found"}
        if method == "PUT":
            seconds = body.get("time_in_seconds")
            if seconds is None:
                seconds = 60 * body["time"]
            rule["ts"], rule["updateAt"] = now + timedelta(seconds=seconds), now
            return 200, {"status": "success", "result": {"id": rule["id"], "ts": _iso(rule["ts"])}}
        del self.rules[rule["id"]]
        return 200, {"status": "success", "id": rule["id"]}


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _shown(rule: dict) -> dict:
    return {key: _iso(value) if isinstance(value, datetime) else value for key, value in rule.items()}


def serve(upstream: KickingUpstream):
    """Start answering for `upstream` on a free port; returns the server (call .shutdown() when done)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # noqa: A002  (the standard library's name)
            pass

        def handle_one(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else {}
            query = {key: values[0] for key, values in parse_qs(parts.query).items()}
            upstream.seen.append(Seen(method, body, query, self.headers.get("Authorization", "")))
            if parts.path != PATH:
                return self.answer(404, {"message": "no such path"})
            fault = upstream.fault_for(method)
            if fault and fault.hook:
                fault.hook(body)
            if fault and fault.status and not fault.act:
                time.sleep(fault.delay)
                return self.answer(fault.status, {"message": "fault"})
            status, answer = upstream.act(method, body, query)
            if fault:
                time.sleep(fault.delay)
                status = fault.status or status
            self.answer(status, answer)

        def answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting: a timeout test
                pass

        def do_GET(self):  # noqa: N802
            self.handle_one("GET")

        def do_POST(self):  # noqa: N802
            self.handle_one("POST")

        def do_PUT(self):  # noqa: N802
            self.handle_one("PUT")

        def do_DELETE(self):  # noqa: N802
            self.handle_one("DELETE")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    upstream.url = f"http://127.0.0.1:{server.server_port}"
    return server


# Fixtures (imported by the kicking tests) ------------------------------------------------------------------


@pytest.fixture
def upstream(settings, monkeypatch):
    """The fake upstream, as every organization's upstream (their base URL is empty: the operator's default),
    with short timeouts and back-off so that faults cost little time."""
    from network import kicking

    fake = KickingUpstream()
    server = serve(fake)
    settings.USAGE_UPSTREAM_URL = fake.url
    monkeypatch.setattr(kicking, "TIMEOUT", 1.0)
    monkeypatch.setattr(kicking, "MAX_BACKOFF", 0.05)
    yield fake
    server.shutdown()
    server.server_close()
