"""network.check over real sockets: the verdicts Agora's console gives (OK, 590, 591, 592, the status), against
the console's own receiver (live_server) and small local servers that misbehave on purpose."""

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from network import check, ncs, services
from network.models import ChannelUser, ReceivedNotice


def receiving_url(base: str, project) -> str:
    return f"{base}/webhooks/agora/{project.project_id}/"


@contextmanager
def server(answer) -> Iterator[str]:
    """A local HTTP server whose every POST is answered by `answer(handler, body)`; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            answer(self, body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def reply(status: int, body: bytes, content_type: str = "application/json"):
    def answer(handler, _):
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return answer


def test_the_console_receiver_passes_every_type_and_applies_none(live_server, acme):
    project = acme.projects[0]
    receiving = services.enable(None, project)
    results = check.send_test_notifications(receiving_url(live_server.url, project), receiving.secret, ncs.EVENT_NAMES)
    assert [(r.event_type, r.ok, r.status) for r in results] == [(code, True, 200) for code in sorted(ncs.EVENT_NAMES)]
    assert all(r.seconds is not None and r.seconds < check.TIMEOUT for r in results)
    stored = ReceivedNotice.objects.filter(project=project)
    assert sorted(stored.values_list("event_type", flat=True)) == sorted(ncs.EVENT_NAMES)
    assert {n.outcome for n in stored} == {"recorded"}
    assert not ChannelUser.objects.exists()


def test_a_wrong_secret_is_reported_as_the_receivers_401(live_server, acme):
    project = acme.projects[0]
    services.enable(None, project)
    results = check.send_test_notifications(receiving_url(live_server.url, project), "not-the-secret", [103, 104])
    assert [(r.ok, r.status) for r in results] == [(False, 401), (False, 401)]
    assert results[0].detail == "Answered 401, not 200."
    assert not ReceivedNotice.objects.exists()


def test_each_notification_is_signed_over_the_exact_bytes_sent():
    seen = []

    def answer(handler, body):
        seen.append((body, handler.headers["Agora-Signature"], handler.headers["Agora-Signature-V2"]))
        reply(200, b"{}")(handler, body)

    with server(answer) as base:
        [result] = check.send_test_notifications(f"{base}/hook", "demo-ncs-secret", [105])
    assert result.ok
    [(body, sha1, sha256)] = seen
    assert (sha1, sha256) == ncs.signatures("demo-ncs-secret", body)
    sent = json.loads(body)
    assert sent["noticeId"].startswith(check.NOTICE_PREFIX) and sent["eventType"] == 105
    assert sent["payload"]["channelName"] == "test_webhook" and sent["payload"]["uid"] == 12121212
    assert ncs.parse(body).channel_name == ncs.TEST_CHANNEL


def test_200_without_a_json_body_fails():
    with server(reply(200, b"OK", "text/plain")) as base:
        [result] = check.send_test_notifications(f"{base}/hook", "secret", [103])
    assert (result.ok, result.status, result.detail) == (False, 200, "Answered 200, but the body is not JSON.")


def test_a_redirect_is_not_followed():
    def answer(handler, _):
        handler.send_response(301)
        handler.send_header("Location", "https://elsewhere.example/")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    with server(answer) as base:
        [result] = check.send_test_notifications(f"{base}/hook", "secret", [103])
    assert (result.ok, result.status) == (False, 301)


def test_no_answer_in_time_is_590_and_the_rest_are_not_sent():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts connections (the kernel does) and never answers
    try:
        port = listener.getsockname()[1]
        results = check.send_test_notifications(f"http://127.0.0.1:{port}/hook", "secret", [103, 104], timeout=0.5)
    finally:
        listener.close()
    assert [(r.ok, r.status) for r in results] == [(False, 590), (False, 590)]
    assert results[1].detail.startswith("Not sent:")


def test_a_slow_trickle_past_the_deadline_is_590():
    def answer(handler, _):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.end_headers()
        for _ in range(10):
            handler.wfile.write(b" " * 9000)
            handler.wfile.flush()
            threading.Event().wait(0.1)
        handler.wfile.write(b"{}")

    with server(answer) as base:
        [result] = check.send_test_notifications(f"{base}/hook", "secret", [103], timeout=0.3)
    assert (result.ok, result.status) == (False, 590)


def test_an_unresolvable_host_is_591():
    [result] = check.send_test_notifications("http://no-such-host.invalid/webhooks/agora/x/", "secret", [103])
    assert (result.ok, result.status) == (False, 591)


def test_a_tls_failure_is_592(live_server):
    """HTTPS to a server that speaks plain HTTP: the TLS handshake fails, as with a certificate that does not
    verify."""
    https = live_server.url.replace("http://", "https://")
    [result] = check.send_test_notifications(f"{https}/webhooks/agora/x/", "secret", [103])
    assert (result.ok, result.status) == (False, 592)


def test_nothing_listening_has_no_status():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    results = check.send_test_notifications(f"http://127.0.0.1:{port}/hook", "secret", [103, 104])
    assert [(r.ok, r.status) for r in results] == [(False, None), (False, None)]
    assert results[0].detail == "Nothing accepted the connection at the receiving URL."


def test_nothing_is_sent_after_the_budget():
    calls = []

    def answer(handler, body):
        calls.append(body)
        reply(200, b"{}")(handler, body)

    with server(answer) as base:
        results = check.send_test_notifications(f"{base}/hook", "secret", [103, 104, 105], budget=0)
    assert len(calls) == 1  # the first goes out whatever the budget
    assert [(r.ok, r.status) for r in results] == [(True, 200), (False, 590), (False, 590)]


@pytest.mark.parametrize("event_type", sorted(ncs.EVENT_NAMES))
def test_every_test_payload_parses_as_the_receiver_reads_it(event_type):
    body = check.check_body(event_type, f"{check.NOTICE_PREFIX}x-{event_type}", 1_700_000_000_123)
    parsed = ncs.parse(body)
    assert parsed.event_type == event_type and parsed.channel_name == ncs.TEST_CHANNEL
    assert (parsed.uid == ncs.TEST_UID) == (event_type in ncs.PRESENCE)
