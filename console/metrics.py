"""What an operator watches: Prometheus metrics at /metrics and the readiness checks behind /readyz.

The metrics are prometheus-client's. Under gunicorn (several worker processes) and Celery, every process
writes its values into the folder named by PROMETHEUS_MULTIPROC_DIR and a scrape of any worker sums them.
Things are counted where they happen: requests by the middleware below; tokens by one call at each door
that issues them; pulls by one call where a run's outcome is saved (usage.pulling); month closes and
refused sign-ins from their audit entries, by the receiver below (connected in console.apps, so that Celery
workers count too); runs reaped by the reaper that takes over runs whose worker died. The Celery queue's
length is read from the broker when scraped.

/metrics answers 404 while METRICS_TOKEN is empty (nobody can scrape, and the endpoint does not show);
otherwise a scraper sends `Authorization: Bearer <METRICS_TOKEN>` and any other request gets 401.
"""

import hmac
import logging
import os
import threading
import time
import uuid
from functools import lru_cache

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models.signals import post_save
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

logger = logging.getLogger(__name__)

# Metrics --------------------------------------------------------------------------------------------

http_requests = Counter(
    "console_http_requests",
    "HTTP requests answered, by view (URL name), method and status.",
    ["view", "method", "status"],
)
http_request_duration = Histogram(
    "console_http_request_duration_seconds", "Time to answer an HTTP request, by view and method.", ["view", "method"]
)
tokens_issued = Counter("console_tokens_issued", "Tokens issued, by kind and door (page or api).", ["kind", "door"])
pulls = Counter("console_usage_pulls", "Usage pull runs finished, by outcome and trigger.", ["outcome", "trigger"])
pull_duration = Histogram(
    "console_usage_pull_duration_seconds",
    "Time from a pull run's start to its end, by outcome.",
    ["outcome"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200),
)
rows_written = Counter("console_usage_rows_written", "Daily usage rows written by finished pull runs.")
runs_reaped = Counter("console_runs_reaped", "Job runs left by a dead worker and taken over by the reaper.")
month_closes = Counter("console_month_closes", "Organization months closed: one statement issued each.")
login_failures = Counter(
    "console_login_failures", "Refused sign-ins and password confirmations, by reason.", ["reason"]
)

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


# Requests -------------------------------------------------------------------------------------------


class MetricsMiddleware:
    """Counts and times every request. First in MIDDLEWARE, so the time includes the other middleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        view = view_label(request)
        method = request.method if request.method in KNOWN_METHODS else "other"
        http_request_duration.labels(view, method).observe(time.perf_counter() - started)
        http_requests.labels(view, method, str(response.status_code)).inc()
        return response


def view_label(request) -> str:
    """The URL's name, never the raw path: one series per view, whatever callers put in their URLs."""
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match.view_name  # "namespace:name"; an unnamed pattern gives its view's dotted path
    if request.path.startswith(settings.STATIC_URL):
        return "static"  # answered by whitenoise before URL resolution
    return "unmatched"


# Pulls, month closes and sign-in failures -----------------------------------------------------------


def count_finished_pull(run) -> None:
    """Called by usage.pulling once a run's outcome is saved: its outcome, duration and rows, once committed."""
    outcome, trigger, rows, duration = run.status, run.trigger, run.rows_written, run.duration
    seconds = None if duration is None else duration.total_seconds()
    transaction.on_commit(lambda: _count_pull(outcome, trigger, seconds, rows))


def _count_pull(outcome: str, trigger: str, seconds: float | None, rows: int) -> None:
    pulls.labels(outcome, trigger).inc()
    rows_written.inc(rows)
    if seconds is not None:
        pull_duration.labels(outcome).observe(seconds)


# Audit actions counted as refused sign-ins; the value is the `reason` label.
LOGIN_FAILURE_REASONS = {
    "auth.login_failed": "bad_credentials",
    "auth.lockout": "locked_out",
    "auth.reauth_failed": "reauth",
}


def count_audited(sender, instance, created, **kwargs) -> None:
    """Refused sign-ins and issued statements, from their audit entries, once written for good."""
    if not created:
        return
    reason = LOGIN_FAILURE_REASONS.get(instance.action)
    if reason:
        transaction.on_commit(login_failures.labels(reason).inc)
    elif instance.action == "billing.statement_issued":
        transaction.on_commit(month_closes.inc)


post_save.connect(count_audited, sender="accounts.AuditEntry", dispatch_uid="metrics-audited")


# The broker -----------------------------------------------------------------------------------------

CHECK_TIMEOUT = 2.0  # seconds for each readiness check and for reading the queue's length
REDIS_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")  # kombu keeps a list per priority step


def broker_is_redis() -> bool:
    return settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://"))


@lru_cache(maxsize=4)
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=CHECK_TIMEOUT, socket_timeout=CHECK_TIMEOUT)


def _broker_folder() -> str:
    return settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]


def default_queue() -> str:
    return getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")


def queue_length(queue: str) -> int:
    """Messages waiting in `queue`: the Redis lists' lengths, or the embedded broker's message files."""
    if broker_is_redis():
        with _redis(settings.CELERY_BROKER_URL).pipeline(transaction=False) as pipe:
            for suffix in REDIS_PRIORITY_SUFFIXES:
                pipe.llen(queue + suffix)
            return sum(pipe.execute())
    ending = f".{queue}.msg"
    with os.scandir(_broker_folder()) as entries:  # a leading dot marks a message still being written
        return sum(1 for entry in entries if entry.name.endswith(ending) and not entry.name.startswith("."))


class QueueLengthCollector:
    """console_celery_queue_length, read from the broker at each scrape."""

    def describe(self):
        return [self._family()]

    def collect(self):
        family = self._family()
        queue = default_queue()
        try:
            family.add_metric([queue], queue_length(queue))
        except (redis.RedisError, OSError) as error:  # the scrape goes on without it; /readyz names the broker
            logger.warning("Could not read the length of the Celery queue: %s", type(error).__name__)
        yield family

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily("console_celery_queue_length", "Tasks waiting in the Celery queue.", labels=["queue"])


def _scrape_registry() -> CollectorRegistry:
    """Multiprocess mode: a registry that reads every process's files. Otherwise this process's own."""
    if settings.PROMETHEUS_MULTIPROC_DIR:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=settings.PROMETHEUS_MULTIPROC_DIR)
    else:
        registry = REGISTRY
    registry.register(QueueLengthCollector())
    return registry


SCRAPE_REGISTRY = _scrape_registry()


# /metrics -------------------------------------------------------------------------------------------


@require_GET
def metrics(request):
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404("Metrics are turned off.")
    if not bearer_matches(request, token):
        response = JsonResponse({"message": "Send the metrics token: Authorization: Bearer <token>."}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    # The classic text format whatever the Accept header asks: every Prometheus reads it, and no header is parsed.
    return HttpResponse(generate_latest(SCRAPE_REGISTRY), content_type=CONTENT_TYPE_PLAIN_0_0_4)


def bearer_matches(request, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # Constant time: how long the comparison takes tells nothing about how much of the token was right.
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


# Readiness ------------------------------------------------------------------------------------------


def check_database() -> None:
    # A connection of its own, closed after: the check runs in a short-lived thread.
    connection = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close()


def check_cache() -> None:
    key = f"readyz:{uuid.uuid4().hex}"  # a key of its own: concurrent probes must not overwrite each other
    cache.set(key, 1, timeout=30)
    if cache.get(key) != 1:
        raise LookupError("the cache did not keep a value")
    cache.delete(key)


def check_broker() -> None:
    if broker_is_redis():
        _redis(settings.CELERY_BROKER_URL).ping()
    elif not os.access(_broker_folder(), os.W_OK):
        raise PermissionError("the embedded broker's folder is missing or not writable")


READINESS_CHECKS = {"database": check_database, "cache": check_cache, "broker": check_broker}


def readiness() -> dict[str, str]:
    """Each check's verdict: "ok", "error" or "timeout". They run at once, for CHECK_TIMEOUT seconds at most:
    a thread that hangs (a firewalled host) is left behind, so the answer never waits for it."""
    verdicts = dict.fromkeys(READINESS_CHECKS, "timeout")

    def run(name, check):
        try:
            check()
            verdicts[name] = "ok"
        except Exception as error:  # noqa: BLE001  (whatever fails, the service is not ready)
            verdicts[name] = "error"
            # The error's type only: its text may name a host or a user.
            logger.warning("Readiness check %s failed: %s", name, type(error).__name__)

    threads = [threading.Thread(target=run, args=item, daemon=True) for item in READINESS_CHECKS.items()]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + CHECK_TIMEOUT
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return dict(verdicts)
