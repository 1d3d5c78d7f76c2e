"""Real Celery worker processes for tests that kill one mid-task: `celery -A console worker` started as a
subprocess on the test's database and broker, stopped with SIGKILL, as a crash or the kernel's OOM killer would.

- The database: PostgreSQL's test database as it is; SQLite's (in memory for the tests) copied into a file,
  which the test then reads and writes under an alias of its own (`SharedDatabase.alias`).
- The broker: Redis (a queue of the test's own) or the embedded filesystem broker (folders of the test's own).
  `Broker.app` sends tasks to the workers' queue.
- Workers run with usage/tests/worker_settings.py: one thread each, the queue, and short bounds.
"""

import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from celery import Celery
from django.conf import settings
from django.db import connection, connections

from conftest import TEST_REDIS_URL, skip_or_fail
from console.broker import AtomicFilesystemTransport

READY_WITHIN = 30  # seconds for a worker to start
STALE_AFTER = timedelta(seconds=3)  # PULL_RUN_STALE_AFTER of the workers


def wait_for(condition, seconds: float, what: str, log=lambda: ""):
    """Poll `condition` until it returns something truthy; fail after `seconds` saying what was awaited."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds} s for {what}\n--- worker log ---\n{log()}")
        time.sleep(0.1)


# The database ------------------------------------------------------------------------------------


@dataclass
class SharedDatabase:
    alias: str  # where this process reads and writes what the workers see
    url: str  # DATABASE_URL of the workers
    path: Path | None = None  # SQLite: the file


def share_database(tmp_path: Path) -> SharedDatabase:
    """The test database as worker processes can open it, with everything written so far. Call it once the
    test's data is in place: an SQLite copy does not follow later writes to the in-memory database."""
    if connection.vendor == "postgresql":
        return SharedDatabase("default", _postgres_url(connection.settings_dict))
    path = tmp_path / "shared.sqlite3"
    connection.ensure_connection()
    copy = sqlite3.connect(path)
    try:
        connection.connection.backup(copy)
    finally:
        copy.close()
    alias = f"shared_{uuid.uuid4().hex[:8]}"
    connections.settings[alias] = {**connection.settings_dict, "NAME": str(path)}
    # Opened now: Django's test case refuses to open a connection to an alias it was not told of, and lets
    # an open one be used.
    connections[alias].connect()
    return SharedDatabase(alias, f"sqlite:///{path}", path)


def forget_database(database: SharedDatabase) -> None:
    if database.alias == "default":
        return
    connections[database.alias].close()
    del connections[database.alias]
    del connections.settings[database.alias]


def _postgres_url(db: dict) -> str:
    credentials = quote(db["USER"] or "", safe="") + ":" + quote(db["PASSWORD"] or "", safe="")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


# The broker --------------------------------------------------------------------------------------


@dataclass
class Broker:
    kind: str  # "redis" or "filesystem"
    queue: str
    env: dict[str, str]  # what a worker process needs to use it
    app: Celery  # sends tasks to the workers' queue
    var_dir: Path

    def send(self, task: str, *args) -> None:
        self.app.send_task(task, args=list(args))


def make_broker(kind: str, tmp_path: Path) -> Broker:
    queue = f"worker-loss-{uuid.uuid4().hex}"
    var_dir = tmp_path / "var"
    conf = {"task_default_queue": queue, "result_backend": None, "worker_hijack_root_logger": False}
    if kind == "redis":
        try:
            redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=2, socket_timeout=2).ping()
        except redis.RedisError:
            skip_or_fail(f"Redis is not running at {TEST_REDIS_URL}")
        conf.update(broker_url=TEST_REDIS_URL, broker_transport=None, broker_transport_options={})
        env = {"REDIS_URL": TEST_REDIS_URL}
    else:
        folders = var_dir / "celery"
        for name in ("broker", "control", "results"):
            (folders / name).mkdir(parents=True, exist_ok=True)
        conf.update(
            broker_url="filesystem://",
            broker_transport=AtomicFilesystemTransport,
            broker_transport_options={  # the folders console/settings.py gives the workers under CONSOLE_VAR_DIR
                "data_folder_in": str(folders / "broker"),
                "data_folder_out": str(folders / "broker"),
                "control_folder": str(folders / "control"),
                "store_processed": False,
            },
        )
        env = {}
    app = Celery("worker-loss-tests", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.update(conf)
    return Broker(kind, queue, env, app, var_dir)


def forget_broker(broker: Broker) -> None:
    broker.app.close()
    if broker.kind == "redis":
        client = redis.Redis.from_url(TEST_REDIS_URL)
        client.delete(broker.queue, f"_kombu.binding.{broker.queue}")


@pytest.fixture(params=["redis", "filesystem"])
def broker(request, tmp_path) -> Broker:
    """A broker of the test's own, on Redis and on the embedded filesystem broker."""
    if request.param == "redis":
        request.applymarker(pytest.mark.services)
    broker = make_broker(request.param, tmp_path)
    yield broker
    forget_broker(broker)


# The workers -------------------------------------------------------------------------------------


@dataclass
class Workers:
    """`share()` the test's database once its data is in place, `start()` a worker process (it returns once
    the worker is ready), `kill(process)` it with SIGKILL; `stop_all()` and `forget()` at the end."""

    tmp_path: Path
    broker: Broker
    database: SharedDatabase | None = None
    upstream_url: str = ""
    processes: list[subprocess.Popen] = field(default_factory=list)

    def share(self) -> SharedDatabase:
        self.database = share_database(self.tmp_path)
        return self.database

    def forget(self) -> None:
        if self.database is not None:
            forget_database(self.database)

    @property
    def log_path(self) -> Path:
        return self.tmp_path / "workers.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def logged(self, *parts: str) -> bool:
        """Whether a line of the workers' log has every one of `parts`."""
        return any(all(part in line for part in parts) for line in self.log().splitlines())

    def start(self) -> subprocess.Popen:
        number = len(self.processes) + 1
        marker = f"worker-loss-{number}-{uuid.uuid4().hex[:8]}"
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "console",
            "worker",
            "--pool=threads",
            "--concurrency=1",
            "--loglevel=INFO",
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
            f"--hostname={marker}@%h",
        ]
        with self.log_path.open("ab") as log:
            process = subprocess.Popen(
                command, cwd=settings.BASE_DIR, env=self._env(), stdout=log, stderr=subprocess.STDOUT
            )
        self.processes.append(process)
        wait_for(lambda: self._ready(marker), READY_WITHIN, "a worker to start", self.log)
        return process

    def _ready(self, marker: str) -> bool:
        if self.processes[-1].poll() is not None:
            raise AssertionError(f"the worker exited ({self.processes[-1].returncode})\n{self.log()}")
        return self.logged(marker, "ready.")

    def kill(self, process: subprocess.Popen) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                self.kill(process)

    def _env(self) -> dict[str, str]:
        # PYTEST_XDIST_WORKER left out: the Redis URL given below is this test process's own already, and the
        # worker's settings would lower its database number a second time (console.settings).
        left_out = ("REDIS_URL", "DATABASE_URL", "PYTEST_XDIST_WORKER")
        env = {name: value for name, value in os.environ.items() if name not in left_out}
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "usage.tests.worker_settings",
                "DATABASE_URL": self.database.url,
                "CONSOLE_VAR_DIR": str(self.broker.var_dir),
                "SECRET_KEY": settings.SECRET_KEY,
                "CONSOLE_ENCRYPTION_KEYS": ",".join(settings.CONSOLE_ENCRYPTION_KEYS),
                "USAGE_UPSTREAM_URL": self.upstream_url or "http://127.0.0.1:9/sandbox",
                "WORKER_TEST_QUEUE": self.broker.queue,
                "WORKER_TEST_STALE_SECONDS": str(STALE_AFTER.total_seconds()),
                "PYTHONUNBUFFERED": "1",
                **self.broker.env,
            }
        )
        return env
