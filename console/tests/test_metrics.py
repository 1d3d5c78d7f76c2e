"""/metrics (Prometheus, behind a bearer token) and /readyz, read the way an operator's tools read them:
through HTTP, parsed with prometheus-client's own parser, against the real broker, cache and database, and
under a real gunicorn with two workers for the multiprocess mode."""

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import kombu
import pytest
from django.conf import settings as django_settings
from django.db import connections
from django.urls import reverse
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from billing.closing import close_month
from conftest import PASSWORD, skip_or_fail
from console import metrics
from usage.models import DailyUsage, PullRun, Upstream
from usage.pulling import create_run, execute_run

TOKEN = "metrics-test-token-" + "k" * 24


# Helpers ------------------------------------------------------------------------------------------------


def parse(text: str) -> dict[tuple, float]:
    """(sample name, sorted labels) -> value, for every sample of a scrape."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def grew(before: dict, after: dict, name: str, **labels) -> float:
    """How much a counter grew between two scrapes (a series born in between started from 0)."""
    return (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0)


def labels_of(samples: dict, name: str) -> list[dict]:
    return [dict(labels) for (sample, labels) in samples if sample == name]


@pytest.fixture
def scrape(client, settings):
    """`scrape()` reads /metrics as Prometheus does and returns the parsed samples."""
    settings.METRICS_TOKEN = TOKEN

    def read() -> dict:
        response = client.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200, response.content
        return parse(response.content.decode())

    return read


def closed_port() -> int:
    """A loopback port nothing listens on: connections to it are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# The token ----------------------------------------------------------------------------------------------


def test_metrics_are_off_while_the_token_is_empty(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"authorization": "Bearer "}).status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN, "Bearer", "Bearer \u00e9\u00e8"],
)
def test_a_scrape_without_the_right_token_is_refused(client, settings, authorization):
    settings.METRICS_TOKEN = TOKEN
    headers = {"authorization": authorization} if authorization is not None else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert set(response.json()) == {"message"}
    assert TOKEN not in response.content.decode()


def test_the_right_token_gets_the_prometheus_text_format(client, settings):
    settings.METRICS_TOKEN = TOKEN
    # The Accept header is not parsed: a malformed one (prometheus-client's negotiation raises on it) is no 500.
    headers = {"authorization": f"bearer {TOKEN}", "accept": "text/plain;version=abc"}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    body = response.content.decode()
    assert "# TYPE console_http_requests_total counter" in body
    assert "# TYPE console_http_request_duration_seconds histogram" in body
    assert TOKEN not in body
    samples = parse(body)
    for name in ("console_runs_reaped_total", "console_month_closes_total", "console_usage_rows_written_total"):
        assert value(samples, name) is not None, f"{name} is missing"
    assert client.post("/metrics", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 405


# Requests -----------------------------------------------------------------------------------------------


def test_requests_are_counted_and_timed_by_url_name_not_path(acme, client_for, scrape):
    project = acme.projects[0]
    client = client_for(acme.users["engineer"])
    before = scrape()
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    assert client.get(reverse("projects:detail", args=[project.project_id])).status_code == 200
    assert client.get(reverse("projects:detail", args=["nosuchproject"])).status_code == 404
    assert client.get("/no/such/page/" + uuid.uuid4().hex).status_code == 404
    after = scrape()

    healthz = {"view": "healthz", "method": "GET"}
    assert grew(before, after, "console_http_requests_total", status="200", **healthz) == 3
    assert grew(before, after, "console_http_request_duration_seconds_count", **healthz) == 3
    assert grew(before, after, "console_http_request_duration_seconds_sum", **healthz) > 0
    assert grew(before, after, "console_http_request_duration_seconds_bucket", le="+Inf", **healthz) == 3
    detail = {"view": "projects:detail", "method": "GET"}
    assert grew(before, after, "console_http_requests_total", status="200", **detail) == 1
    assert grew(before, after, "console_http_requests_total", status="404", **detail) == 1
    unmatched = {"view": "unmatched", "method": "GET", "status": "404"}
    assert grew(before, after, "console_http_requests_total", **unmatched) == 1
    # Paths never become labels: the project ID and the random path appear nowhere.
    views = {labels["view"] for labels in labels_of(after, "console_http_requests_total")}
    assert not any(project.project_id in view or "/" in view for view in views), views


# Tokens, sign-in failures, pulls, month closes, runs reaped ---------------------------------------------


def test_tokens_are_counted_by_kind_and_door(acme, client_for, scrape):
    project = acme.projects[0]
    client = client_for(acme.users["engineer"])
    before = scrape()
    page = client.post(
        reverse("tokens:temp_token", args=[project.project_id]) + "?tab=rtm", {"user_id": "someone", "expire": 3600}
    )
    assert page.status_code == 200 and page.context["issued"] is not None
    api_url = reverse("api_tokens", args=[project.project_id])
    body = {"type": "rtc", "channel": "demo", "uid": 42, "role": "publisher", "expire": 3600}
    assert client.post(api_url, body, content_type="application/json").status_code == 200
    assert client.post(api_url, {"type": "nonsense"}, content_type="application/json").status_code == 400
    after = scrape()

    assert grew(before, after, "console_tokens_issued_total", kind="rtm", door="page") == 1
    assert grew(before, after, "console_tokens_issued_total", kind="rtc", door="api") == 1
    total = sum(
        grew(before, after, "console_tokens_issued_total", **labels)
        for labels in labels_of(after, "console_tokens_issued_total")
    )
    assert total == 2, "a refused request issued nothing and counts nothing"


def test_refused_sign_ins_are_counted_by_reason(acme, client, scrape, settings, django_capture_on_commit_callbacks):
    settings.LOGIN_FAILURE_LIMIT = 1  # the second attempt is refused without checking the password
    before = scrape()
    attempt = {"login": "finance@acme.test", "password": "not the password"}
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/accounts/login/", attempt).status_code == 200
        refused = client.post("/accounts/login/", {**attempt, "password": PASSWORD})
        assert refused.status_code == 200 and "Too many failed sign-in attempts" in refused.content.decode()
    after = scrape()
    assert grew(before, after, "console_login_failures_total", reason="bad_credentials") == 1
    assert grew(before, after, "console_login_failures_total", reason="locked_out") == 1
    assert "not the password" not in str(after) and PASSWORD not in str(after)


def test_a_failed_pull_is_counted_with_its_duration(acme, scrape, django_capture_on_commit_callbacks):
    Upstream.objects.filter(organization=acme.organization).delete()
    before = scrape()
    with django_capture_on_commit_callbacks(execute=True):
        run = execute_run(create_run(acme.organization, date(2026, 1, 1), date(2026, 1, 2), trigger="console"))
        assert run.status == PullRun.Status.FAILED
    after = scrape()
    assert grew(before, after, "console_usage_pulls_total", outcome="failed", trigger="console") == 1
    assert grew(before, after, "console_usage_pull_duration_seconds_count", outcome="failed") == 1
    assert grew(before, after, "console_usage_rows_written_total") == 0


def test_a_pull_rolled_back_is_not_counted(acme, scrape):
    """Counted when committed: here the test's transaction is rolled back, so the run never happened."""
    Upstream.objects.filter(organization=acme.organization).delete()
    before = scrape()
    execute_run(create_run(acme.organization, date(2026, 1, 1), date(2026, 1, 2), trigger="console"))
    assert grew(before, scrape(), "console_usage_pulls_total", outcome="failed", trigger="console") == 0


@pytest.mark.django_db(transaction=True)
def test_a_pull_from_the_sandbox_counts_its_rows(acme, live_server, settings, scrape):
    settings.USAGE_UPSTREAM_URL = live_server.url + "/sandbox"
    before = scrape()
    run = execute_run(create_run(acme.organization, date(2026, 1, 1), date(2026, 1, 31), trigger="command"))
    assert run.status == PullRun.Status.SUCCEEDED, run.error
    after = scrape()
    assert grew(before, after, "console_usage_pulls_total", outcome="succeeded", trigger="command") == 1
    assert grew(before, after, "console_usage_rows_written_total") == 2 * 31 == run.rows_written
    assert grew(before, after, "console_usage_pull_duration_seconds_count", outcome="succeeded") == 1
    # The sandbox's answers went through the same middleware, named by their URL.
    assert grew(before, after, "console_http_requests_total", view="sandbox_usage", method="GET", status="200") >= 2


def test_month_closes_are_counted_once(acme, scrape, django_capture_on_commit_callbacks):
    DailyUsage.objects.create(project=acme.projects[0], date=date(2026, 10, 3), business="default", audio=600)
    before = scrape()
    with django_capture_on_commit_callbacks(execute=True):
        assert len(close_month(date(2026, 10, 1), today=date(2026, 11, 2))) == 1
        assert close_month(date(2026, 10, 1), today=date(2026, 11, 2)) == []  # already closed: nothing issued
    assert grew(before, scrape(), "console_month_closes_total") == 1


def test_runs_reaped_is_ready_for_the_reaper(scrape):
    before = scrape()
    metrics.runs_reaped.inc()
    assert grew(before, scrape(), "console_runs_reaped_total") == 1


# The queue ----------------------------------------------------------------------------------------------


def test_the_queue_length_is_read_from_the_broker_when_scraped(scrape, settings, tmp_path):
    queue = f"metrics-test-{uuid.uuid4().hex}"  # never the queue a worker of this machine may be reading
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    if not metrics.broker_is_redis():  # the embedded broker: folders of this test's own
        options = {name: str(tmp_path / name) for name in ("data_folder_in", "control_folder", "processed_folder")}
        options["data_folder_out"] = options["data_folder_in"]
        for folder in options.values():
            Path(folder).mkdir(exist_ok=True)
        settings.CELERY_BROKER_TRANSPORT_OPTIONS = options
    transport = getattr(settings, "CELERY_BROKER_TRANSPORT", None)
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
    with kombu.Connection(settings.CELERY_BROKER_URL, transport=transport, transport_options=options) as connection:
        waiting = connection.SimpleQueue(queue)
        try:
            assert value(scrape(), "console_celery_queue_length", queue=queue) == 0
            for n in range(3):
                waiting.put({"n": n})
            assert value(scrape(), "console_celery_queue_length", queue=queue) == 3
            waiting.get(timeout=5).ack()
            assert value(scrape(), "console_celery_queue_length", queue=queue) == 2
        finally:
            waiting.clear()
            waiting.queue.delete()
            waiting.close()


def test_a_scrape_still_answers_when_the_broker_is_down(scrape, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port()}/0"
    samples = scrape()
    assert labels_of(samples, "console_celery_queue_length") == []
    assert value(samples, "console_runs_reaped_total") is not None


# /readyz ------------------------------------------------------------------------------------------------


def test_readyz_answers_200_when_everything_is_up(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json() == {"database": "ok", "cache": "ok", "broker": "ok"}
    assert client.post("/readyz").status_code == 405


def test_readyz_names_the_database_when_it_is_down(client, db, monkeypatch):
    down = {
        **connections.settings["default"],
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "console",
        "USER": "console",
        "PASSWORD": "",
        "HOST": "127.0.0.1",
        "PORT": str(closed_port()),
        "OPTIONS": {},
    }
    monkeypatch.setitem(connections.settings, "default", down)  # read by every connection opened from now on
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"database": "error", "cache": "ok", "broker": "ok"}


def test_readyz_names_the_cache_when_it_is_down(client, db, settings):
    location = f"redis://127.0.0.1:{closed_port()}/0"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": location}}
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "cache": "error", "broker": "ok"}


@pytest.mark.parametrize("broker", ["redis", "filesystem"])
def test_readyz_names_the_broker_when_it_is_down(client, db, settings, tmp_path, broker):
    if broker == "redis":
        settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port()}/0"
    else:
        settings.CELERY_BROKER_URL = "filesystem://"
        settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path / "gone")}
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "cache": "ok", "broker": "error"}


def test_readyz_waits_no_longer_than_its_timeout(client, db, monkeypatch):
    monkeypatch.setattr(metrics, "CHECK_TIMEOUT", 0.3)
    monkeypatch.setitem(metrics.READINESS_CHECKS, "cache", lambda: time.sleep(2))  # a host that never answers
    started = time.monotonic()
    response = client.get("/readyz")
    assert time.monotonic() - started < 1.5
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "cache": "timeout", "broker": "ok"}


def test_readyz_against_a_real_redis(client, db, settings):
    url = os.environ.get("REDIS_URL")
    if not url:
        skip_or_fail("readyz against a real Redis needs REDIS_URL (e.g. redis://127.0.0.1:6379/15)")
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
    settings.CELERY_BROKER_URL = url
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json() == {"database": "ok", "cache": "ok", "broker": "ok"}


def test_readyz_against_a_real_postgresql(client, db):
    if connections["default"].vendor != "postgresql":
        skip_or_fail("readyz against a real PostgreSQL needs DATABASE_URL=postgres://...")
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["database"] == "ok"


# Multiprocess mode under gunicorn -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(url: str, headers: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_for_workers(process, folder: Path, log: Path, seconds: float = 90) -> None:
    """Until both workers have loaded the app: each writes its own counter file when it does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"gunicorn exited:\n{log.read_text()[-3000:]}"
        if len(list(folder.glob("counter_*.db"))) >= 2:
            return
        time.sleep(0.2)
    pytest.fail(f"gunicorn's workers did not start within {seconds} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def gunicorn(tmp_path):
    """A real gunicorn with two sync workers in multiprocess mode, on an empty SQLite database of its own.
    Yields (base URL, the metrics folder)."""
    if importlib.util.find_spec("gunicorn") is None:
        skip_or_fail("gunicorn is not installed (it is in requirements.txt: pip install -r requirements.txt)")
    port, folder, log = free_port(), tmp_path / "metrics", tmp_path / "gunicorn.log"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")}
    env.update(
        DJANGO_SETTINGS_MODULE="console.settings",
        PROMETHEUS_MULTIPROC_DIR=str(folder),
        METRICS_TOKEN=TOKEN,
        CONSOLE_VAR_DIR=str(tmp_path / "var"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'console.sqlite3'}",
        DEBUG="false",
        HTTPS="false",
        ALLOWED_HOSTS="127.0.0.1",
    )
    command = [sys.executable, "-m", "gunicorn", "console.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", "2", "--log-level", "warning", "--no-control-socket"]  # the socket is per machine
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=django_settings.BASE_DIR, env=env, stdout=output, stderr=output)
    try:
        wait_for_workers(process, folder, log)
        yield f"http://127.0.0.1:{port}", folder
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def healthz_per_worker(folder: Path) -> dict[str, float]:
    """Each worker's own count of GET /healthz, from its file in the metrics folder."""
    counts = {}
    for path in folder.glob("counter_*.db"):
        for family in MultiProcessCollector.merge([str(path)], accumulate=False):
            for sample in family.samples:
                if sample.name == "console_http_requests_total" and sample.labels.get("view") == "healthz":
                    counts[path.stem] = counts.get(path.stem, 0) + sample.value
    return counts


def test_gunicorn_workers_are_summed_in_one_scrape(gunicorn):
    base, folder = gunicorn
    sent = 0
    with ThreadPoolExecutor(8) as pool:
        # Until both workers have answered some (the kernel picks which worker accepts each connection).
        while sent < 400 and len(healthz_per_worker(folder)) < 2:
            statuses = list(pool.map(lambda _: http_get(f"{base}/healthz")[0], range(16)))
            assert statuses == [200] * 16
            sent += 16
    per_worker = healthz_per_worker(folder)
    assert len(per_worker) == 2, per_worker
    assert sum(per_worker.values()) == sent

    for _ in range(4):  # whichever worker answers the scrape, it reports every worker's requests
        status, body = http_get(f"{base}/metrics", {"Authorization": f"Bearer {TOKEN}"})
        assert status == 200
        samples = parse(body)
        assert value(samples, "console_http_requests_total", view="healthz", method="GET", status="200") == sent
        count = value(samples, "console_http_request_duration_seconds_count", view="healthz", method="GET")
        assert count == sent
        assert value(samples, "console_celery_queue_length", queue="celery") == 0
        assert TOKEN not in body
    assert http_get(f"{base}/metrics")[0] == 401
