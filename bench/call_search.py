"""The call search (a project's Calls tab) over 1,000,000 calls of one project: p50/p95 of the page's queries and
of the whole page, for the filters people use.

Run from the repository root:  .venv/bin/python bench/call_search.py [--calls 1000000] [--days 30] [--runs 20]
PostgreSQL (the target's setting): DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres ... (the URL names
the server: the bench creates its own database `bench_calls` there and drops it at the end). Without
DATABASE_URL it runs on a throw-away SQLite file and says so.

Data: one organization, its admin and one project with --calls calls over the last --days days (COPY on
PostgreSQL, batched inserts on SQLite), then ANALYZE: 20,000 channel names; call lengths from a few seconds to
8 hours (median about 12 minutes), so the calls of the last hours are partly in progress, and those have no
Agora call id yet (known from webhooks only), as 1% of the others; peak and accumulated users, and freeze rates
with about one call in ten above Agora's thresholds.

Measured, for each case: "query" is what the page asks the database (the page of 25 rows and the capped count,
network.calls.search + CappedPaginator), run directly; "page" is the whole request through django.test.Client
signed in as the admin (every middleware, the template; no network). 2 warm-up runs, then --runs timed ones.

Target (issue 17): under 200 ms (p95 of the page) for the typical filters.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta

from _database import analyze, bench_database, organization_and_project, percentile, report_line, timed

TARGET_MS = 200
CHANNELS = 20_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with bench_database("bench_calls") as vendor:
        admin, project = organization_and_project()
        sample = fill(project, args.calls, args.days, vendor)
        analyze()
        measure(admin, project, sample, args.runs)


def rows(project_pk: int, count: int, days: int, now: datetime):
    """The calls, as tuples in the order of COLUMNS."""
    rng = random.Random(17)
    span = days * 86400
    for number in range(count):
        started = now - timedelta(seconds=rng.uniform(60, span))
        length = timedelta(seconds=min(8 * 3600, max(5, rng.lognormvariate(6.6, 1.1))))
        ended = started + length if started + length < now else None
        webhook_only = ended is None or rng.random() < 0.01
        peak = max(1, min(200, int(rng.lognormvariate(1.2, 0.8))))
        accumulated = peak + int(rng.expovariate(1 / max(1, peak / 2)))
        rated = ended is not None and not webhook_only
        yield (
            project_pk,
            f"room-{rng.randrange(CHANNELS)}",
            "" if webhook_only else f"{number:08x}{rng.getrandbits(64):016x}",
            started,
            ended,
            peak if rated else None,
            accumulated if rated else None,
            round(min(1.0, rng.expovariate(1 / 0.01)), 4) if rated else None,
            round(min(1.0, rng.expovariate(1 / 0.022)), 4) if rated else None,
            ended + timedelta(minutes=5) if rated else None,
        )


COLUMNS = (
    "project_id",
    "channel_name",
    "call_id",
    "started_at",
    "ended_at",
    "peak_users",
    "accumulated_users",
    "audio_freeze_rate",
    "video_freeze_rate",
    "details_pulled_at",
)


def fill(project, count: int, days: int, vendor: str) -> dict:
    from django.db import connection, transaction

    from network.models import Call

    now = datetime.now(UTC)
    table = Call._meta.db_table
    started = time.perf_counter()
    adapt = connection.ops.adapt_datetimefield_value  # SQLite keeps naive UTC text, as Django writes it
    with connection.cursor() as cursor, transaction.atomic():
        if vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows(project.pk, count, days, now):
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(COLUMNS))
            batch = []
            for row in rows(project.pk, count, days, now):
                batch.append(tuple(adapt(value) if isinstance(value, datetime) else value for value in row))
                if len(batch) == 20_000:
                    cursor.executemany(f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({marks})", batch)
                    batch = []
            if batch:
                cursor.executemany(f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({marks})", batch)
    elapsed = time.perf_counter() - started
    total = Call.objects.filter(project=project).count()
    in_progress = Call.objects.filter(project=project, ended_at__isnull=True).count()
    print(
        f"calls: {total:,} over {days} days ({in_progress:,} in progress), written in {elapsed:.1f} s "
        f"({total / elapsed:,.0f} rows/s)"
    )
    recent = Call.objects.filter(project=project).exclude(call_id="").order_by("-started_at")[500]
    return {"channel": recent.channel_name, "call_id": recent.call_id}


def cases(sample: dict) -> list[tuple[str, str, bool]]:
    """(label, query string, typical: the target applies)."""
    return [
        ("last 24 hours (the default)", "", True),
        ("last 7 days", "range=7d", True),
        ("last 30 days (count stops at 10,000)", "range=30d", True),
        ("channel name, last 30 days", f"range=30d&q={sample['channel']}", True),
        ("call ID, last 30 days", f"range=30d&q={sample['call_id']}", True),
        ("in progress, last 24 hours", "status=in_progress", True),
        ("ended, video freeze >= 5%, last 7 days", "range=7d&status=ended&min_video_freeze=5", True),
        ("duration >= 60 min and >= 10 users, 24 hours", "min_minutes=60&min_users=10", True),
        ("audio freeze >= 3%, last 30 days", "range=30d&min_audio_freeze=3", True),
        ("sorted by video freeze, last 24 hours", "o=-video_freeze_rate", True),
        ("sorted by users, last 7 days", "range=7d&o=-accumulated_users", False),
        ("page 100 of the last 7 days", "range=7d&page=100", False),
        ("a custom week a month ago", "__custom__", False),
    ]


def measure(admin, project, sample: dict, runs: int) -> None:
    from django.db import connection
    from django.http import QueryDict
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from network import calls

    client = Client()
    client.force_login(admin)
    url = f"/projects/{project.project_id}/calls/"
    print(f"\n{'case':<52} {'p50':>10} {'p95':>10}  (query p50/p95, matches, queries)")
    met = True
    for label, query, typical in cases(sample):
        if query == "__custom__":
            now = timezone.now()
            query = f"from={(now - timedelta(days=35)):%Y-%m-%dT%H:%M}&to={(now - timedelta(days=28)):%Y-%m-%dT%H:%M}"
        params = QueryDict(query)

        def run_query(params=params):
            now = timezone.now()
            parsed, _ = calls.parse_call_query(params, now)
            found = calls.search(project, parsed, now)
            paginator = calls.CappedPaginator(found, 25)
            page = paginator.get_page(params.get("page"))
            return list(page.object_list), paginator.count

        sql = timed(run_query, runs)
        _, matches = run_query()
        page = timed(lambda query=query: client.get(f"{url}?{query}"), runs)
        response = client.get(f"{url}?{query}")
        assert response.status_code == 200, response.status_code
        with CaptureQueriesContext(connection) as queries:
            client.get(f"{url}?{query}")
        shown = f"more than {calls.COUNT_CAP:,}" if matches > calls.COUNT_CAP else f"{matches:,}"
        extra = f"({percentile(sql, 0.5):.1f}/{percentile(sql, 0.95):.1f} ms, {shown}, {len(queries)})"
        line, ok = report_line(label, page, extra, TARGET_MS if typical else None)
        met = met and ok
        print(line)
    for key in ("24h", "7d", "30d"):
        quality = timed(lambda key=key: client.get(f"/projects/{project.project_id}/quality/?range={key}"), 5, 1)
        print(report_line(f"the Quality tab, range {key} (not targeted)", quality, "", None)[0])
    print(f"\ntarget: p95 of the page under {TARGET_MS} ms for the typical filters: {'met' if met else 'MISSED'}")


if __name__ == "__main__":
    main()
