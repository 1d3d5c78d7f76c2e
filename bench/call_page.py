"""A call's page (the call inspector) for a call of 50 users with an hour of metrics every 10 seconds: server
time (p50/p95) and query count, for the choices people make.

Run from the repository root:  .venv/bin/python bench/call_page.py [--users 50] [--minutes 60] [--runs 20]
PostgreSQL (the target's setting): DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres ... (the URL names
the server: the bench creates its own database `bench_call_page` there and drops it at the end). Without
DATABASE_URL it runs on a throw-away SQLite file and says so.

Data: one call of --minutes with --users users, all sending audio and video (a meeting: every user receives
every other one), as the analytics pull stores it: per user, the six sender metrics of the console's catalogue
(peer 0) and the six receiver metrics about each remote user, so 50 x (6 + 49 x 6) = 15,000 series of 361
points; a few users freeze or lose packets for a while; leave and role-change notifications of the channel.

Measured through django.test.Client signed in as the admin (every middleware, the template; no network):
2 warm-up requests, then --runs timed ones; the queries of one request with CaptureQueriesContext.

Target (issue 17): under 300 ms (p95) for a call page with 50 users and 1 hour of metrics.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import random
import time
from datetime import UTC, datetime, timedelta

from _database import analyze, bench_database, organization_and_project, report_line, timed

TARGET_MS = 300
SENDER = (20003, 20024, 20015, 20017, 20022, 20021)
RECEIVER = (20004, 20009, 20016, 20018, 20005, 20011)
LEVEL = {20003: 48, 20024: 900, 20015: 0.6, 20017: 0.9, 20022: 40, 20021: 20}
LEVEL |= {20004: 46, 20009: 850, 20016: 1.2, 20018: 1.5, 20005: 0, 20011: 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with bench_database("bench_call_page") as vendor:
        admin, project = organization_and_project()
        call = fill(project, args.users, args.minutes, vendor)
        analyze()
        gc.collect()  # the fill's garbage is not the page's: a web worker starts without it
        measure(admin, project, call, args.runs)


def series_points(rng: random.Random, mid: int, first: int, last: int, troubled: bool) -> list:
    level = LEVEL[mid]
    points = []
    trouble = range(rng.randrange(60, 300), rng.randrange(310, 340)) if troubled else range(0)
    for index, moment in enumerate(range(first, last + 1, 10)):
        value = level * (1 + 0.2 * math.sin(index / 5 + rng.random()))
        if index in trouble:
            value = {20011: 1400, 20005: 600, 20015: 9, 20017: 12, 20016: 8, 20018: 11}.get(mid, value)
        points.append([moment, round(value, 1)])
    return points


def fill(project, users: int, minutes: int, vendor: str):
    from django.db import connection, transaction

    from network import ncs
    from network.models import Call, CallSession, MetricSeries, ReceivedNotice

    rng = random.Random(17)
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    start = end - timedelta(minutes=minutes)
    uids = [100_000 + number for number in range(users)]
    troubled = set(rng.sample(uids, max(1, users // 10)))
    started = time.perf_counter()
    with transaction.atomic():
        call = Call.objects.create(
            project=project,
            channel_name="all-hands",
            call_id="6141d1ef" + "0" * 16,
            started_at=start,
            ended_at=end,
            peak_users=users,
            accumulated_users=users,
            audio_freeze_rate=0.012,
            video_freeze_rate=0.061,
            details_pulled_at=end,
        )
        sessions = CallSession.objects.bulk_create(
            CallSession(
                project=project,
                call=call,
                sid=f"{uid:032X}",
                uid=uid,
                network=rng.choice(["Wi-Fi", "LAN", "4G"]),
                platform=rng.choice(["Android", "iOS", "Windows", "macOS", "Web"]),
                region=rng.choice(["Germany:Berlin", "India:Maharashtra", "United States:California"]),
                speaker=True,
                roles=["HOST"],
                sdk_version="4.3.0",
                device_type="Pixel 7 (Android 14)",
                joined_at=start + timedelta(seconds=rng.randrange(0, 30)),
                left_at=end - timedelta(seconds=rng.randrange(0, 30)),
                finished=True,
                audio_freeze_rate=0.05 if uid in troubled else 0.004,
                video_freeze_rate=0.09 if uid in troubled else 0.01,
            )
            for uid in uids
        )
        if vendor == "sqlite":  # bulk_create does not return ids on every SQLite build
            sessions = list(CallSession.objects.filter(call=call).order_by("uid"))
        first, last = int(start.timestamp()), int(end.timestamp())
        count = 0
        table = MetricSeries._meta.db_table
        batch = []
        for session in sessions:
            for mid in SENDER:
                batch.append((session.pk, mid, 0, series_points(rng, mid, first, last, session.uid in troubled)))
            for peer in uids:
                if peer == session.uid:
                    continue
                for mid in RECEIVER:
                    batch.append((session.pk, mid, peer, series_points(rng, mid, first, last, peer in troubled)))
            if len(batch) >= 3000 or session is sessions[-1]:
                count += len(batch)
                _write(connection, vendor, table, batch)
                batch = []
        for uid in sorted(troubled):
            moment = start + timedelta(minutes=20)
            payload = {"channelName": "all-hands", "uid": uid, "ts": int(moment.timestamp()), "reason": 2}
            ReceivedNotice.objects.create(
                project=project,
                notice_id=f"leave-{uid}",
                product_id=1,
                event_type=ncs.BROADCASTER_LEFT,
                channel_name="all-hands",
                uid=uid,
                client_seq=1,
                payload=payload,
                outcome="applied",
                first_received_at=moment,
                last_received_at=moment,
            )
    elapsed = time.perf_counter() - started
    print(
        f"call: {users} users, {minutes} min, {count:,} metric series of {last // 10 - first // 10 + 1} points; "
        f"written in {elapsed:.1f} s"
    )
    return call


def _write(connection, vendor: str, table: str, batch: list) -> None:
    with connection.cursor() as cursor:
        if vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} (session_id, mid, peer_uid, points) FROM STDIN") as copy:
                for session_id, mid, peer, points in batch:
                    copy.write_row((session_id, mid, peer, json.dumps(points)))
        else:
            cursor.executemany(
                f"INSERT INTO {table} (session_id, mid, peer_uid, points) VALUES (%s, %s, %s, %s)",
                [(session_id, mid, peer, json.dumps(points)) for session_id, mid, peer, points in batch],
            )


def measure(admin, project, call, runs: int) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from network.models import CallSession

    client = Client()
    client.force_login(admin)
    url = f"/projects/{project.project_id}/calls/{call.call_id}/"
    uids = list(CallSession.objects.filter(call=call).order_by("uid").values_list("uid", flat=True))
    twenty = "&".join(f"uid={uid}" for uid in uids[:20])
    tenth = (call.started_at + timedelta(minutes=25)).strftime("%Y-%m-%dT%H:%M:%S")
    later = (call.started_at + timedelta(minutes=35)).strftime("%Y-%m-%dT%H:%M:%S")
    cases = [
        ("the whole hour, the 5 worst users chosen (default)", "", True),
        ("the whole hour, 20 users chosen", f"chosen=1&{twenty}", True),
        ("20 users chosen, the receiver side of the 10th", f"chosen=1&{twenty}&receiver={uids[9]}", True),
        ("1 user chosen: 20 of its 49 remote users drawn", f"chosen=1&uid={uids[0]}", True),
        ("20 users chosen, a 10-minute window", f"chosen=1&{twenty}&from={tenth}&to={later}", True),
        ("no user chosen (users table and header only)", "chosen=1", False),
        ("users page 2 (users_page=2)", "users_page=2", False),
    ]
    print(f"\n{'case':<52} {'p50':>10} {'p95':>10}  (queries, KB)")
    met = True
    for label, query, targeted in cases:
        response = client.get(f"{url}?{query}")
        assert response.status_code == 200, response.status_code
        timings = timed(lambda query=query: client.get(f"{url}?{query}"), runs)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"{url}?{query}")
        extra = f"({len(queries)}, {len(response.content) / 1024:.0f})"
        line, ok = report_line(label, timings, extra, TARGET_MS if targeted else None)
        met = met and ok
        print(line)
    print(f"\ntarget: p95 under {TARGET_MS} ms: {'met' if met else 'MISSED'}")


if __name__ == "__main__":
    main()
