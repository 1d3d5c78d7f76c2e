"""Settings of the Celery worker processes that the worker-loss tests start (usage/tests/worker_process.py):
the project's own, with the test's queue, and bounds short enough to see a lost job come back within seconds."""

import os
from datetime import timedelta

from console.settings import *  # noqa: F403  (a settings module: the project's settings, then the changes)
from console.settings import CELERY_BROKER_TRANSPORT_OPTIONS, DATABASES, REDIS_URL

CELERY_TASK_DEFAULT_QUEUE = os.environ["WORKER_TEST_QUEUE"]
PULL_RUN_STALE_AFTER = timedelta(seconds=float(os.environ["WORKER_TEST_STALE_SECONDS"]))
if REDIS_URL:
    # A lost worker's message goes back to the queue a second after it was taken, swept every second.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        **CELERY_BROKER_TRANSPORT_OPTIONS,
        "visibility_timeout": 1,
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {**CELERY_BROKER_TRANSPORT_OPTIONS, "polling_interval": 0.1}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A test holds SQLite's write lock while it kills a worker: the next one waits for it rather than fail.
    DATABASES["default"]["OPTIONS"] = {**DATABASES["default"].get("OPTIONS", {}), "timeout": 60}
