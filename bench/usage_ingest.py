"""Usage ingest on PostgreSQL: 365 days x 1,000 projects (365,000 rows) upserted through
usage.pulling.upsert_days, one call per project in its own transaction (as a pull writes a window), then the
same again (a re-pull): rows per second for each, and that the re-pull did not add a single row.

Run from the repository root:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/usage_ingest.py
    [--projects 1000] [--days 365] [--database bench_ingest]

DATABASE_URL names the server and an existing database to connect to for administration. The bench
creates its own database (--database, default bench_ingest) on that server, migrates and fills it, and drops
it at the end, also on Ctrl-C or SIGTERM; the database named in DATABASE_URL is never written to.

Figures are synthetic (usage.synthetic, the sandbox's model) and computed before each project's write, outside
the timed part. Timed: upsert_days and its transaction; of that, the time spent in cursor.execute (the
statement's round trip in PostgreSQL; commits not included) is shown too, so Django's share (365 model objects,
the SQL and its parameters) shows as most of the difference.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FIRST_DAY = date(2025, 1, 1)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--database", default="bench_ingest", help="scratch database, created and dropped")
    return parser.parse_args()


def admin_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if urlsplit(url).scheme not in ("postgres", "postgresql", "pgsql"):
        raise SystemExit("Set DATABASE_URL=postgres://user@host:port/database (a PostgreSQL server).")
    return url


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def libpq_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, parts.fragment))


def admin_sql(url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(statement)


class ExecuteTimer:
    """A Django execute wrapper adding up the seconds spent in the database driver."""

    def __init__(self):
        self.seconds = 0.0
        self.statements = 0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.statements += 1


def run(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.db.models import Sum

    from accounts.models import Organization, User
    from accounts.services import create_organization
    from projects.models import Project
    from usage.models import DURATION_FIELDS, DailyUsage
    from usage.pulling import upsert_days
    from usage.synthetic import usage_for_day

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    owner = User.objects.create_user("bench@example.com", "bench-password", name="Bench")
    organization: Organization = create_organization(owner, "Bench")
    # 1,000 projects in one statement: projects.services would check the project limit and audit each one.
    Project.objects.bulk_create(
        [Project(organization=organization, name=f"Bench project {n:04d}") for n in range(args.projects)]
    )
    projects = list(Project.objects.filter(organization=organization).order_by("pk"))
    days = [FIRST_DAY + timedelta(days=n) for n in range(args.days)]
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
        cursor.execute("SHOW synchronous_commit")
        sync_commit = cursor.fetchone()[0]
    print(f"PostgreSQL {version} (synchronous_commit={sync_commit}), database {args.database}")
    print(f"setup (migrate, {len(projects)} projects): {time.perf_counter() - started:.1f} s")
    print(f"{len(projects)} projects x {len(days)} days = {len(projects) * len(days):,} rows, one upsert per project\n")

    def figures(project) -> dict:
        return {
            day: {DURATION_FIELDS[field]: seconds for field, seconds in usage_for_day(project.project_id, day).items()}
            for day in days
        }

    def one_pass(label: str) -> tuple[int, float]:
        timer = ExecuteTimer()
        upsert_seconds, written = 0.0, 0
        wall = time.perf_counter()
        with connection.execute_wrapper(timer):
            for project in projects:
                window = figures(project)
                began = time.perf_counter()
                with transaction.atomic():
                    written += upsert_days(project, "default", window)
                upsert_seconds += time.perf_counter() - began
        wall = time.perf_counter() - wall
        rate = written / upsert_seconds
        print(
            f"{label:<22} {written:>9,} rows in {upsert_seconds:6.2f} s: {rate:>9,.0f} rows/s"
            f"  (in cursor.execute {timer.seconds:5.2f} s, {timer.statements} statements;"
            f" wall with figure generation {wall:5.1f} s)"
        )
        return written, rate

    def state() -> tuple[int, int]:
        return DailyUsage.objects.count(), DailyUsage.objects.aggregate(total=Sum("audio"))["total"] or 0

    one_pass("first pull (insert)")
    rows_first, audio_first = state()
    one_pass("re-pull (upsert)")
    rows_again, audio_again = state()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_total_relation_size(%s)", [DailyUsage._meta.db_table])
        size = cursor.fetchone()[0]

    print(f"\nrows after the first pull: {rows_first:,}; after the re-pull: {rows_again:,}", end="  ")
    print("(did not grow)" if rows_again == rows_first else "(GREW: re-pulls add rows!)")
    print("audio seconds stored: " + ("unchanged by the re-pull" if audio_again == audio_first else "CHANGED"))
    print(f"table with its indexes: {size / 2**20:.0f} MiB")
    if rows_again != rows_first or rows_first != len(projects) * len(days) or audio_again != audio_first:
        raise SystemExit(1)


def main() -> None:
    args = parse_args()
    url = admin_url()
    if args.database == urlsplit(url).path.lstrip("/"):
        raise SystemExit("--database must not be the database DATABASE_URL names.")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind through `finally`: the database is dropped
    admin_sql(url, f'DROP DATABASE IF EXISTS "{args.database}"')  # a run killed with SIGKILL left it behind
    admin_sql(url, f'CREATE DATABASE "{args.database}"')
    os.environ["DATABASE_URL"] = with_database(url, args.database)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    try:
        run(args)
    finally:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: BLE001  (Django may not have got as far as setting up)
            pass
        admin_sql(url, f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        print(f"dropped database {args.database}")


if __name__ == "__main__":
    main()
