"""What the console's log lines look like (LOGGING in console/settings.py uses these).

Every record written while a request or a Celery task sent by one is served carries that request's id.
A response of 400 or more is logged once, by Django, as an access line ("GET /path 403 Forbidden"): a 4xx
without a traceback (it is the caller's business, not a fault), a 5xx with its traceback. LOG_FORMAT=json
writes one JSON object a line.
"""

import json
import logging
from datetime import UTC, datetime

from celery import signals
from django.http import HttpRequest

from console.request_id import REQUEST_ID

# The Celery message header that takes the id of the request sending a task to the worker.
TASK_HEADER = "console_request_id"


class RequestIdFilter(logging.Filter):
    """Sets `record.request_id` when a request id is known (the text format shows "-" otherwise)."""

    def filter(self, record):
        # Django logs a response's status after the middleware has returned, so also ask the record's request.
        request_id = REQUEST_ID.get() or getattr(getattr(record, "request", None), "request_id", None)
        if request_id:
            record.request_id = request_id
        return True


class ResponseLineFilter(logging.Filter):
    """One record per response of 400 or more: Django's, as an access line, the traceback kept for a 5xx
    only; runserver's own line about the response is dropped."""

    def filter(self, record):
        status = getattr(record, "status_code", 0)
        if record.name == "django.server":  # runserver's request line; Django's own says more
            return status < 400
        request = getattr(record, "request", None)
        if status >= 400 and isinstance(request, HttpRequest):
            as_access_line(record, request, status)
        return True


def as_access_line(record: logging.LogRecord, request: HttpRequest, status: int) -> None:
    if getattr(record, "access_line", False):  # already rewritten for another handler
        return
    path = escaped(request.path)  # never the query string: it may hold a secret
    detail = record.getMessage().removesuffix(f": {path}")  # Django's "Not Found: /path" and the like
    record.msg, record.args = "%s %s %s %s", (escaped(request.method), path, status, detail)
    if status < 500:
        record.exc_info = record.exc_text = None
    record.access_line = True


def escaped(text: str) -> str:
    """As Django escapes what it logs: a newline in a path cannot start a forged line."""
    return text.encode("unicode_escape").decode("ascii")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request_id, and exception when there is one."""

    def format(self, record):
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str)


# Celery. Django configures logging (and so imports this module) before a worker or beat sets up its own.


@signals.setup_logging.connect
def keep_django_logging(**kwargs):
    """Answering this signal stops Celery from replacing LOGGING with its own handlers and format."""


@signals.before_task_publish.connect
def send_request_id(headers=None, **kwargs):
    request_id = REQUEST_ID.get()
    if request_id and headers is not None:
        headers[TASK_HEADER] = request_id


@signals.task_prerun.connect
def take_request_id(task=None, **kwargs):
    request_id = getattr(task.request, TASK_HEADER, None)
    if request_id:
        REQUEST_ID.set(request_id)


@signals.task_postrun.connect
def drop_request_id(task=None, **kwargs):
    if getattr(task.request, TASK_HEADER, None):  # the worker's next task may come from no request
        REQUEST_ID.set(None)
