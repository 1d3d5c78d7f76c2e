"""Logs: a refused or missing page is one access line with its request id and no traceback, a server error
is logged once with its traceback, LOG_FORMAT=json writes one JSON object a line, Celery tasks sent by a
request log with its id, and the favicon is served and linked."""

import contextlib
import copy
import io
import json
import logging
import logging.config
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from celery import Celery, signals
from celery.app.trace import trace_task
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import include, path, reverse
from django.utils.log import DEFAULT_LOGGING

from console.log_format import TASK_HEADER, JsonFormatter, keep_django_logging
from console.request_id import REQUEST_ID

from .test_permission_matrix import EXPECTATIONS, objects, sign_in_recently  # noqa: F401  (the fixture)

ROOT = Path(__file__).resolve().parents[2]
FAVICON = '<link rel="icon" href="/static/console/favicon.svg" type="image/svg+xml">'


def failing_view(request):
    logging.getLogger("console.tests").info("about to fail")
    raise RuntimeError("the view broke")


urlpatterns = [path("fail/", failing_view), path("", include("console.urls"))]


class Recorder(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@dataclass
class Output:
    stderr: io.StringIO
    recorder: Recorder = field(default_factory=Recorder)

    def lines(self) -> list[str]:
        return self.stderr.getvalue().splitlines()

    def records(self, prefix: str = "django") -> list[logging.LogRecord]:
        return [record for record in self.recorder.records if record.name.startswith(prefix)]


@contextlib.contextmanager
def logging_configured(config: dict):
    """Logging as a process sets it up at start (Django's defaults, then `config`), stderr into a buffer."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):  # every StreamHandler created now writes into the buffer
        logging.config.dictConfig(DEFAULT_LOGGING)
        logging.config.dictConfig(config)
    output = Output(stderr)
    logging.getLogger().addHandler(output.recorder)  # after the configured handler: sees records as it left them
    try:
        yield output
    finally:
        logging.config.dictConfig(DEFAULT_LOGGING)
        logging.config.dictConfig(settings.LOGGING)


@pytest.fixture(params=[False, True], ids=["production", "debug"])
def log(request, settings):
    """The configured logging, with DEBUG off and on (Django's defaults printed everything twice under DEBUG)."""
    settings.DEBUG = request.param
    with logging_configured(settings.LOGGING) as output:
        yield output


def assert_one_access_line(log, response, expected: str) -> None:
    request_id = response["X-Request-ID"]
    [record] = log.records()
    assert record.exc_info is None and record.exc_text is None
    assert record.request_id == request_id
    [line] = log.lines()
    assert line.endswith(f"[{request_id}] {expected}"), line


def test_a_refused_page_is_one_line_without_a_traceback(acme, client_for, log):
    response = client_for(acme.users["finance"]).get(reverse("projects:list"))
    assert response.status_code == 403
    assert_one_access_line(log, response, "GET /projects/ 403 Forbidden (Permission denied)")


def test_a_refused_form_post_is_one_line_with_the_reason(db, log):
    response = Client(enforce_csrf_checks=True).post(reverse("account_login"), {"login": "someone"})
    assert response.status_code == 403
    assert_one_access_line(log, response, "POST /accounts/login/ 403 Forbidden (CSRF cookie not set.)")


def test_a_missing_page_is_one_line_without_its_query_string(db, client, log):
    response = client.get("/no-such-page/", {"token": "s3cret-value"})
    assert response.status_code == 404
    assert_one_access_line(log, response, "GET /no-such-page/ 404 Not Found")
    assert "s3cret" not in log.stderr.getvalue()


def test_an_api_refusal_is_one_line(db, client, log):
    response = client.get("/api/v1/projects/")
    assert response.status_code == 401
    assert_one_access_line(log, response, "GET /api/v1/projects/ 401 Unauthorized")


@pytest.mark.urls(__name__)
def test_a_server_error_is_logged_once_with_its_traceback(db, client, log):
    client.raise_request_exception = False
    response = client.get("/fail/")
    assert response.status_code == 500
    request_id = response["X-Request-ID"]
    [record] = log.records()
    assert record.exc_info and record.exc_info[0] is RuntimeError
    assert record.request_id == request_id
    assert record.getMessage() == "GET /fail/ 500 Internal Server Error"
    # What the view logged itself carries the id too.
    [said] = log.records("console.tests")
    assert said.request_id == request_id
    assert log.stderr.getvalue().count("Traceback") == 1
    assert log.stderr.getvalue().count("RuntimeError: the view broke") == 1


def test_a_line_outside_a_request_shows_no_request_id(log):
    logging.getLogger("console.tests").warning("no request here")
    assert log.lines()[-1].endswith("WARNING console.tests [-] no request here")


# LOG_FORMAT=json ---------------------------------------------------------------------------------


def test_the_json_format_is_one_object_a_line_with_the_exception():
    try:
        raise ValueError("bad value")
    except ValueError:
        record = logging.LogRecord("console.x", logging.ERROR, __file__, 1, "failed: %s", ("here",), sys.exc_info())
    record.request_id = "abc123"
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry.keys() == {"time", "level", "logger", "message", "request_id", "exception"}
    assert (entry["level"], entry["logger"], entry["message"], entry["request_id"]) == (
        "ERROR",
        "console.x",
        "failed: here",
        "abc123",
    )
    assert entry["time"].endswith("+00:00")
    assert entry["exception"].startswith("Traceback") and "ValueError: bad value" in entry["exception"]


@pytest.mark.urls(__name__)
def test_with_the_json_format_every_line_is_json_with_the_request_id(acme, client_for, settings):
    config = copy.deepcopy(settings.LOGGING)
    config["handlers"]["console"]["formatter"] = "json"
    client = client_for(acme.users["finance"])
    client.raise_request_exception = False
    with logging_configured(config) as log:
        responses = [client.get(url) for url in (reverse("projects:list"), "/no-such-page/", "/fail/")]
        logging.getLogger("console.tests").info("after the requests")
    entries = [json.loads(line) for line in log.lines()]
    assert [entry["request_id"] for entry in entries] == [
        *(response["X-Request-ID"] for response in responses[:2]),
        responses[2]["X-Request-ID"],  # "about to fail", from the view
        responses[2]["X-Request-ID"],
        None,
    ]
    assert [entry["message"] for entry in entries][:2] == [
        "GET /projects/ 403 Forbidden (Permission denied)",
        "GET /no-such-page/ 404 Not Found",
    ]
    assert [("exception" in entry) for entry in entries] == [False, False, False, True, False]


def run_with_log_format(value: str, tmp_path) -> subprocess.CompletedProcess:
    """A fresh process with LOG_FORMAT=value refused by the API; its stdout is the X-Request-ID."""
    script = (
        "import django, logging; django.setup(); from django.test import Client;"
        "response = Client().get('/api/v1/projects/', headers={'host': 'localhost'});"
        "logging.getLogger('console').info('done'); print(response['X-Request-ID'])"
    )
    (tmp_path / "static").mkdir()
    environment = {**os.environ, "LOG_FORMAT": value, "CONSOLE_VAR_DIR": str(tmp_path), "DEBUG": "false"}
    environment.update(DJANGO_SETTINGS_MODULE="console.settings", STATIC_ROOT=str(tmp_path / "static"))
    return subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


def test_log_format_json_in_the_environment_turns_every_line_into_json(tmp_path):
    result = run_with_log_format("json", tmp_path)
    assert result.returncode == 0, result.stderr
    entries = [json.loads(line) for line in result.stderr.splitlines()]
    assert [(entry["message"], entry["request_id"]) for entry in entries] == [
        ("GET /api/v1/projects/ 401 Unauthorized", result.stdout.strip()),
        ("done", None),
    ]


def test_an_unknown_log_format_is_refused(tmp_path):
    result = run_with_log_format("xml", tmp_path)
    assert result.returncode != 0
    assert "LOG_FORMAT must be text or json" in result.stderr


# Celery ------------------------------------------------------------------------------------------


def test_a_task_sent_during_a_request_carries_its_id():
    headers = {}
    token = REQUEST_ID.set("req-42")
    try:
        signals.before_task_publish.send(sender="some.task", body=(), headers=headers)
    finally:
        REQUEST_ID.reset(token)
    assert headers[TASK_HEADER] == "req-42"
    untouched = {}
    signals.before_task_publish.send(sender="some.task", body=(), headers=untouched)
    assert TASK_HEADER not in untouched


def test_the_worker_logs_a_task_with_the_id_of_the_request_that_sent_it(settings):
    app = Celery("logging-test", set_as_current=False)

    @app.task(ignore_result=True)
    def work():
        logging.getLogger("console.tests").info("working")

    with logging_configured(settings.LOGGING) as log:
        # What the worker does with a message: its headers are the task's request.
        trace_task(work, "task-1", (), {}, request={"id": "task-1", TASK_HEADER: "req-42"}, app=app)
        assert REQUEST_ID.get() is None  # the worker's next task starts without it
        trace_task(work, "task-2", (), {}, request={"id": "task-2"}, app=app)
    assert [getattr(record, "request_id", None) for record in log.records("console.tests")] == ["req-42", None]


def test_celery_keeps_the_logging_django_configured():
    """A worker or beat sets up Celery's own handlers and format unless a receiver answers this signal."""
    receivers = signals.setup_logging.send(sender=None, loglevel=logging.INFO, logfile=None, format="", colorize=False)
    assert keep_django_logging in [receiver for receiver, _ in receivers]


# Favicon -----------------------------------------------------------------------------------------


def test_favicon_ico_answers_with_the_icon(db, client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert b"".join(response.streaming_content) == Path(finders.find("console/favicon.svg")).read_bytes()


@pytest.mark.parametrize("who", ["anonymous", "admin", "finance"])
def test_every_page_links_the_favicon(who, acme, objects, client):  # noqa: F811
    """Every page, allauth's included, is drawn in one of the console's layouts (console/base_public.html or
    base.html), which link the icon; signed-in members have just re-authenticated, to reach allauth's pages
    about second factors. ReDoc's API docs page has /favicon.ico instead."""
    client.raise_request_exception = False  # a server error is the permission matrix's to report
    if who != "anonymous":
        sign_in_recently(client, acme.users[who])
    pages, missing = 0, []
    for name in sorted(set(EXPECTATIONS) - {"api_docs"}):
        url = reverse(name, kwargs=objects.get(name, {}))
        response = client.get(url)
        if not response.get("Content-Type", "").startswith("text/html") or not response.content:
            continue  # a redirect, a 405 or a file
        if response.status_code >= 500:
            continue
        pages += 1
        if FAVICON not in response.content.decode():
            missing.append(f"{url} ({response.status_code})")
    assert pages > 10
    assert not missing, f"pages without the icon as {who}: {missing}"
