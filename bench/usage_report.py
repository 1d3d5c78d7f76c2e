"""The usage page on PostgreSQL with 1,000 projects x 365 days: server time (median of 20) and query count.

Run from the repository root:  .venv/bin/python bench/usage_report.py [--projects 1000] [--days 365] [--runs 20]

DATABASE_URL names the PostgreSQL server. The bench never uses the database named there: it creates its own
database `bench_usage` on that server, migrates it, fills it, measures, and drops it at the end
(bench/_database.py).

Data: one organization, its admin, N projects (bulk insert) and N x D rows of daily usage for the business
"default" up to today, with the sandbox's synthetic figures (usage.synthetic), written with COPY; then ANALYZE.
Measured through django.test.Client, signed in as the admin (the request goes through every middleware;
no network): for each case, 2 warm-up requests, then --runs timed ones; the queries of one request with
CaptureQueriesContext.

Target (issue 5): under 150 ms and under 15 queries for "12 months by month" and "90 days by day, breakdown".
"""

from __future__ import annotations

import argparse
import statistics
import time

from _database import bench_database

BENCH_DATABASE = "bench_usage"
TARGET_MS, TARGET_QUERIES = 150, 15
CASES = [  # (label, query string, targeted)
    ("all projects, last 12 months, by month", "period=12m&granularity=month", True),
    ("all projects, last 90 days, by day, breakdown", "period=90d&granularity=day&breakdown=1", True),
    ("all projects, last 90 days, by day", "period=90d&granularity=day", False),
    ("breakdown, last page (OFFSET ~90,000)", "period=90d&granularity=day&breakdown=1&page=99999", False),
    ("all projects, last 12 months, by day", "period=12m&granularity=day", False),
    ("one project, last 12 months, by day", "period=12m&granularity=day&project={one}", False),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with bench_database(BENCH_DATABASE) as vendor:
        if vendor != "postgresql":
            raise SystemExit("This bench needs PostgreSQL: set DATABASE_URL=postgres://...")
        from django.db import connection

        admin, one = fill(args.projects, args.days)
        measure(admin, one, args.runs, connection)


def fill(project_count: int, days: int):
    from datetime import UTC, datetime, timedelta

    from django.db import connection

    from accounts.models import User
    from accounts.services import create_organization
    from projects.models import Project
    from usage.models import DURATION_FIELDS, DailyUsage
    from usage.synthetic import usage_for_day

    admin = User.objects.create_user("bench@example.test", "bench-password-123", name="Bench Admin")
    organization = create_organization(admin, "Bench")

    started = time.perf_counter()
    projects = Project.objects.bulk_create(
        Project(organization=organization, name=f"Project {n:04}") for n in range(1, project_count + 1)
    )
    print(f"projects: {len(projects):,} bulk-inserted in {time.perf_counter() - started:.2f} s")

    today = datetime.now(UTC).date()
    first = today - timedelta(days=days - 1)
    started = time.perf_counter()
    rows = []
    for project in projects:
        for offset in range(days):
            day = first + timedelta(days=offset)
            seconds = usage_for_day(project.project_id, day)
            rows.append((project.pk, day, "default", *(seconds[name] for name in DURATION_FIELDS)))
    generated = time.perf_counter() - started

    table = DailyUsage._meta.db_table
    columns = ", ".join(["project_id", "date", "business", *DURATION_FIELDS.values(), "pulled_at"])
    pulled_at = datetime.now(UTC)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((*row, pulled_at))
    inserted = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # what autovacuum would have done by the time anyone looks
    analyzed = time.perf_counter() - started
    count = DailyUsage.objects.count()
    print(
        f"daily usage: {count:,} rows ({project_count:,} projects x {days} days, {first} to {today}); "
        f"generated in {generated:.1f} s, bulk-inserted (COPY) in {inserted:.1f} s "
        f"({count / inserted:,.0f} rows/s), ANALYZE {analyzed:.2f} s"
    )
    return admin, projects[0]


def measure(admin, one, runs: int, connection) -> None:
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(admin)
    print(f"\n{'case':<48} {'median':>9} {'p90':>9} {'min':>8} {'queries':>8} {'KB':>6}  target")
    failures = []
    for label, query, targeted in CASES:
        query = query.replace("{one}", one.project_id)
        url = f"/usage/?{query}"
        for _ in range(2):
            response = client.get(url)
            assert response.status_code == 200, response.status_code
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        median = statistics.median(timings)
        p90 = sorted(timings)[int(0.9 * (len(timings) - 1))]
        verdict = ""
        if targeted:
            ok = median < TARGET_MS and len(queries) < TARGET_QUERIES
            verdict = "ok" if ok else "MISSED"
            if not ok:
                failures.append(label)
        size = len(response.content) / 1024
        figures = f"{median:>7.1f}ms {p90:>7.1f}ms {min(timings):>6.1f}ms {len(queries):>8} {size:>6.0f}"
        print(f"{label:<48} {figures}  {verdict}")

    export = "/usage/export.csv?period=90d&granularity=day&breakdown=1"
    started = time.perf_counter()
    response = client.get(export)
    size = sum(len(chunk) for chunk in response.streaming_content)
    elapsed = (time.perf_counter() - started) * 1000
    print(f"\nCSV export of the breakdown (every row): {elapsed:.0f} ms, {size / 1e6:.1f} MB")
    print(f"\ntarget: median under {TARGET_MS} ms and under {TARGET_QUERIES} queries: ", end="")
    print("met" if not failures else f"MISSED for {', '.join(failures)}")


if __name__ == "__main__":
    main()
