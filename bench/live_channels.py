"""The live channels of a project with 10,000 channels online, on PostgreSQL: the page, the first page of
Agora's /dev/v1/channel and the channel list query alone (median and p95 of --runs, and the page's queries).

Run from the repository root:  .venv/bin/python bench/live_channels.py [--channels 10000] [--runs 30]

The bench makes a database `bench_live` of its own on DATABASE_URL's server (bench/_database.py; PostgreSQL
only: the COPY and the index-only scan are PostgreSQL's). Data: one
organization with the busy project (--channels channels with 1 to 6 users each, a third of them audience, and
as many users who left), and 20 other projects with 500 channels each, all inserted with COPY; then ANALYZE.
Measured through django.test.Client (every middleware, no network), signed in as the admin.

Target (issue 17): the live channel list of a project with 10,000 online channels under 50 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from _database import bench_database, percentile, timed

TARGET_MS = 50


def fill(channels: int):
    from datetime import UTC, datetime, timedelta

    from django.db import connection

    from accounts.api_credentials import create_credential
    from accounts.models import Membership, User
    from accounts.services import create_organization
    from network.models import ChannelUser
    from projects.models import Project

    admin = User.objects.create_user("bench@example.test", "bench-password-123", name="Bench Admin")
    organization = create_organization(admin, "Bench")
    projects = Project.objects.bulk_create(
        Project(organization=organization, name=f"Project {n:02}") for n in range(21)
    )
    busy, others = projects[0], projects[1:]
    now = datetime.now(UTC)
    rng = random.Random(17)
    columns = "project_id, channel_name, uid, role, online, last_client_seq, platform, joined_at, updated_at"
    started, rows = time.perf_counter(), 0
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {ChannelUser._meta.db_table} ({columns}) FROM STDIN") as copy,
    ):
        for project, count in [(busy, channels), *((other, 500) for other in others)]:
            for number in range(count):
                for uid in range(1, 2 * rng.randint(1, 6) + 1):
                    online = uid % 2 == 1  # half of them left
                    role = 2 if uid % 3 == 0 else 1
                    joined = now - timedelta(seconds=rng.randint(10, 7200))
                    copy.write_row((project.pk, f"room-{number:05}", uid, role, online, uid, 7, joined, now))
                    rows += 1
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # what autovacuum will have done: the index alone answers the list
    print(f"channel users: {rows:,} rows inserted (COPY) and vacuumed in {time.perf_counter() - started:.1f} s")
    membership = Membership.objects.get(user=admin, organization=organization)
    credential = create_credential(membership, "bench")
    empty = Project.objects.create(organization=organization, name="Empty project")
    return admin, busy, empty, (credential.credential.customer_id, credential.secret)


def report(label: str, timings: list[float], queries: int | None = None, targeted: bool = False) -> bool:
    median = statistics.median(timings)
    p95 = percentile(timings, 0.95)
    verdict = ""
    if targeted:
        verdict = "ok" if p95 < TARGET_MS else f"OVER {TARGET_MS} ms"
    shown = "" if queries is None else f"{queries:>8}"
    print(f"{label:<52} {median:>7.1f} ms {p95:>7.1f} ms {shown:>8}  {verdict}")
    return not targeted or p95 < TARGET_MS


def measure(admin, busy, empty, credential, runs: int) -> bool:
    import base64

    from django.db import connection as default_connection
    from django.test import Client

    from network import live

    client = Client()
    client.force_login(admin)
    page = f"/projects/{busy.project_id}/channels/"
    basic = "Basic " + base64.b64encode(":".join(credential).encode()).decode()

    def first_page():
        rows = live.online_channels(busy)
        return rows.count(), list(rows[:50])

    def get(url, **headers):
        def call():
            response = client.get(url, headers=headers)
            assert response.status_code == 200, (url, response.status_code)

        return call

    print(f"\n{'case':<52} {'median':>10} {'p95':>10} {'queries':>8}  target")
    ok = True
    queries = []
    with default_connection.execute_wrapper(lambda execute, sql, *rest: queries.append(sql) or execute(sql, *rest)):
        get(page)()
    ok &= report("live channels page (first 50 of all, with count)", timed(get(page), runs), len(queries), True)
    ok &= report("live channels page, search 'room-09'", timed(get(f"{page}?q=room-09"), runs))
    ok &= report("live channels page, page 100", timed(get(f"{page}?page=100"), runs))
    ok &= report("query only: count + first 50", timed(first_page, runs))
    ok &= report(
        "an empty project's page (the page's own cost)", timed(get(f"/projects/{empty.project_id}/channels/"), runs)
    )
    agora = f"/dev/v1/channel/{busy.app_id}?page_size=500"
    ok &= report("GET /dev/v1/channel (500 per page)", timed(get(agora, Authorization=basic), runs))
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--channels", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with bench_database("bench_live") as vendor:
        if vendor != "postgresql":
            raise SystemExit("This bench needs PostgreSQL: set DATABASE_URL=postgres://...")
        from django.test.utils import override_settings

        override_settings(API_RATE_LIMIT_PER_SECOND=1_000_000).enable()  # the figures are the query's, not the limit's
        admin, busy, empty, credential = fill(args.channels)
        measure(admin, busy, empty, credential, args.runs)


if __name__ == "__main__":
    main()
