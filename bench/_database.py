"""What the database benches share (bench/call_search.py, bench/call_page.py, bench/live_channels.py): a
database of their own, Django set up on it, one organization with its admin and a project, and the timings.

With DATABASE_URL naming a PostgreSQL server, a bench creates its own database there (dropping a leftover one
first), migrates, fills and measures it, and drops it at the end, also after an error or Ctrl-C; it never
touches the database the URL names. Without DATABASE_URL it uses a throw-away SQLite file, and says that the
targets are PostgreSQL's. CONSOLE_VAR_DIR is a temporary directory, removed at the end; DEBUG is off and static
URLs come from the plain static files storage (no collectstatic).

Not run on its own: the benches import it (this directory is the first entry of sys.path when they run).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


def _admin_sql(maintenance_url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(maintenance_url, autocommit=True) as connection:
        connection.execute(statement)


@contextlib.contextmanager
def bench_database(name: str) -> Iterator[str]:
    """Django set up on the bench's own database; yields "postgresql" or "sqlite"."""
    workdir = tempfile.mkdtemp(prefix=f"{name}-")
    given = os.environ.get("DATABASE_URL", "")
    maintenance_url = None
    if given:
        parts = urlsplit(given)
        if parts.scheme not in ("postgres", "postgresql", "pgsql"):
            sys.exit(f"DATABASE_URL must name a PostgreSQL server, not {parts.scheme}://")
        bench_url = urlunsplit(parts._replace(path=f"/{name}"))
        maintenance_url = urlunsplit(parts._replace(path="/postgres"))
        _admin_sql(maintenance_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        _admin_sql(maintenance_url, f"CREATE DATABASE {name}")
        print(f"database: PostgreSQL {name} (created; dropped at the end) on {parts.hostname}")
    else:
        bench_url = f"sqlite:///{workdir}/{name}.sqlite3"
        print("database: SQLite (a throw-away file). The targets are PostgreSQL's: set DATABASE_URL=postgres://...")
    try:
        os.environ.update(
            DATABASE_URL=bench_url,
            CONSOLE_VAR_DIR=workdir,
            DEBUG="false",
            ALLOWED_HOSTS="testserver",
            DJANGO_SETTINGS_MODULE="console.settings",
        )
        os.environ.pop("REDIS_URL", None)  # local-memory cache: the figures are the page's, not Redis's
        sys.path.insert(0, str(ROOT))
        yield _set_up()
    finally:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: BLE001 - Django may not have started
            pass
        if maintenance_url:
            _admin_sql(maintenance_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            print(f"database: {name} dropped")
        shutil.rmtree(workdir, ignore_errors=True)


def _set_up() -> str:
    import django

    warnings.filterwarnings("ignore", "No directory at")  # WhiteNoise and the uncollected static files
    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import override_settings

    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    override_settings(STORAGES=storages).enable()
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"migrate: {time.perf_counter() - started:.1f} s")
    return connection.vendor


def organization_and_project():
    """(the admin user, a project) of a new organization, made through the services."""
    from accounts.models import Membership, User
    from accounts.services import create_organization
    from projects.services import create_project

    admin = User.objects.create_user("bench@example.test", "bench-password-123", name="Bench Admin")
    organization = create_organization(admin, "Bench")
    project = create_project(Membership.objects.get(user=admin, organization=organization), name="Bench project")
    return admin, project


def analyze() -> None:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # what autovacuum would have done by the time anyone looks
    print(f"ANALYZE: {time.perf_counter() - started:.2f} s")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def timed(action: Callable[[], object], runs: int, warm_up: int = 2) -> list[float]:
    """Milliseconds of each of `runs` calls of `action`, after `warm_up` untimed ones."""
    for _ in range(warm_up):
        action()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def report_line(label: str, timings: list[float], extra: str, target_ms: float | None) -> tuple[str, bool]:
    p50, p95 = statistics.median(timings), percentile(timings, 0.95)
    verdict = "" if target_ms is None else ("ok" if p95 < target_ms else "MISSED")
    return f"{label:<52} {p50:>8.1f}ms {p95:>8.1f}ms {extra}  {verdict}", verdict != "MISSED"
