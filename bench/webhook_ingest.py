"""Webhook ingest over HTTP: signed notifications/s and p50/p99 latency into gunicorn, with duplicates and
reordering, then a count of what was stored: no notification lost or applied twice.

Run from the repository root:  .venv/bin/python bench/webhook_ingest.py [--events 20000] [--clients 32]
With PostgreSQL (the target's setting): DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_webhooks ...
(a database you can migrate and fill; the default is a throw-away SQLite file).

What it sends: --users users in --channels channels of one project, each with a run of events in clientSeq
order (join as audience, become host, become audience, ..., leave); every notification signed with
Agora-Signature-V2 over its exact bytes. --duplicates of them (default 10%) are sent again, and the whole
stream is shuffled inside windows of 50, so that a user's events often arrive out of order. Each request
goes on a keep-alive connection when the server keeps it (gunicorn's sync worker closes every one).

Afterwards it counts in the database: one ReceivedNotice per distinct noticeId, deliveries adding up to
every 200 answered, and every user in the state of their newest event.

Target (issue 17): 2,000 signed events/s on 2 cores (gunicorn, PostgreSQL), p99 under 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import random
import statistics
import time
from collections import Counter

from _http import Run, add_load_options, check_load_options

SETUP_CODE = """
import json, secrets, django
django.setup()
from accounts.models import Membership, User
from accounts.services import create_organization
from network.models import NotificationSettings
from projects.services import create_project

run = secrets.token_hex(4)
user = User.objects.create_user(f"bench-{run}@example.test", secrets.token_urlsafe(16), name="Bench")
organization = create_organization(user, f"Bench {run}")
project = create_project(Membership.objects.get(user=user, organization=organization), name="Bench project")
receiving = NotificationSettings.objects.create(project=project)
print(json.dumps({"project_id": project.project_id, "secret": receiving.secret}))
"""

CHECK_CODE = """
import json, sys, django
django.setup()
from django.db.models import Count, Sum
from network.models import ChannelUser, ReceivedNotice
from projects.models import Project

args = json.loads(open(sys.argv[1]).read())
project = Project.objects.get(project_id=args["project_id"])
notices = ReceivedNotice.objects.filter(project=project)
totals = notices.aggregate(rows=Count("id"), deliveries=Sum("deliveries"))
outcomes = dict(notices.values_list("outcome").annotate(n=Count("id")))
newest = args["newest"]
wrong = sum(
    1
    for channel, uid, seq, online, role in ChannelUser.objects.filter(project=project).values_list(
        "channel_name", "uid", "last_client_seq", "online", "role"
    )
    if newest.get(f"{channel}/{uid}") != [seq, online, role]
)
users = ChannelUser.objects.filter(project=project).count()
print(json.dumps({**totals, "outcomes": outcomes, "users": users, "users_wrong": wrong}))
"""

SEQ = 1_700_000_000_000
# (event type, online afterwards, role afterwards): audience joins, becomes host and back, and leaves.
JOIN, TO_HOST, TO_AUDIENCE, LEAVE = (105, True, 2), (111, True, 1), (112, True, 2), (106, False, 2)


def events(users: int, channels: int) -> tuple[list[tuple[str, dict]], dict]:
    """(noticeId, body) for every event, in clientSeq order per user; and each user's newest state."""
    stream, newest = [], {}
    for index in range(users):
        channel, uid = f"bench-{index % channels}", 10_000 + index
        steps = [JOIN, TO_HOST, TO_AUDIENCE] + [TO_HOST, TO_AUDIENCE] * random.randint(0, 2) + [LEAVE]
        for number, (event_type, online, role) in enumerate(steps):
            seq = SEQ + number
            payload = {"channelName": channel, "uid": uid, "platform": 7, "clientSeq": seq, "ts": seq // 1000}
            notice_id = f"{index}:{number}:{event_type}"
            stream.append(
                (
                    notice_id,
                    {
                        "noticeId": notice_id,
                        "productId": 1,
                        "eventType": event_type,
                        "notifyMs": seq,
                        "payload": payload,
                    },
                )
            )
            newest[f"{channel}/{uid}"] = [seq, online, role]
    return stream, newest


def requests(stream: list[tuple[str, dict]], port: int, path: str, secret: str, duplicates: float) -> list[bytes]:
    """Signed HTTP requests: the stream plus re-deliveries, shuffled within windows of 50."""
    # In time order (every user's first event, then every user's second, ...), re-deliveries anywhere.
    timeline = sorted(stream, key=lambda item: (int(item[0].split(":")[1]), int(item[0].split(":")[0])))
    for again in random.sample(stream, int(len(stream) * duplicates)):
        timeline.insert(random.randrange(len(timeline) + 1), again)
    window = 50
    for start in range(0, len(timeline), window):
        chunk = timeline[start : start + window]
        random.shuffle(chunk)
        timeline[start : start + window] = chunk
    built = []
    for _, body in timeline:
        raw = json.dumps(body, separators=(",", ":")).encode()
        signature = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Agora-Signature-V2: {signature}\r\nContent-Length: {len(raw)}\r\nConnection: keep-alive\r\n\r\n"
        )
        built.append(head.encode() + raw)
    return built


async def send_all(port: int, queue: list[bytes], clients: int) -> dict:
    results = {"latencies": [], "statuses": Counter(), "errors": Counter()}
    position = 0

    async def client() -> None:
        nonlocal position
        reader = writer = None
        while position < len(queue):
            request = queue[position]
            position += 1
            for _attempt in range(3):
                started = time.perf_counter()
                try:
                    if writer is None:
                        reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.write(request)
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = close = 0
                    for line in head.split(b"\r\n")[1:]:
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"content-length":
                            length = int(value)
                        elif name.strip().lower() == b"connection" and value.strip().lower() == b"close":
                            close = 1
                    if length:
                        await reader.readexactly(length)
                except (OSError, asyncio.IncompleteReadError) as error:
                    results["errors"][type(error).__name__] += 1
                    writer = None
                    continue
                results["latencies"].append(time.perf_counter() - started)
                results["statuses"][int(head[9:12])] += 1
                if close:
                    writer.close()
                    writer = None
                break
        if writer is not None:
            writer.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_load_options(parser)
    parser.add_argument("--users", type=int, default=3000, help="users, each with 4 to 8 events (default 3,000)")
    parser.add_argument("--channels", type=int, default=300, help="channels they are spread over (default 300)")
    parser.add_argument("--duplicates", type=float, default=0.10, help="share sent twice (default 0.10)")
    options = parser.parse_args()
    check_load_options(parser, options)
    random.seed(17)

    with Run() as run:
        env = run.prepare()
        setup = run.django(SETUP_CODE)
        stream, newest = events(options.users, options.channels)
        port = run.start_server(options)
        path = f"/webhooks/agora/{setup['project_id']}/"
        queue = requests(stream, port, path, setup["secret"], options.duplicates)
        print(
            f"Database {env['DATABASE_URL'].split(':')[0]}, gunicorn {options.workers} x {options.worker_class}, "
            f"{options.clients} clients: {len(stream):,} events + {len(queue) - len(stream):,} re-deliveries"
        )
        started = time.perf_counter()
        results = asyncio.run(send_all(port, queue, options.clients))
        elapsed = time.perf_counter() - started
        latencies = sorted(results["latencies"])
        answered = sum(results["statuses"].values())
        p50 = statistics.median(latencies) * 1000
        p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
        print(f"  {answered / elapsed:8.0f} notifications/s   p50 {p50:.1f} ms   p99 {p99:.1f} ms   ({elapsed:.1f} s)")
        print(f"  statuses {dict(results['statuses'])}   connection errors {dict(results['errors']) or 'none'}")
        expected = run.workdir / "expected.json"
        expected.write_text(json.dumps({"project_id": setup["project_id"], "newest": newest}))
        check = run.django(CHECK_CODE, str(expected))
        ok = results["statuses"].get(200, 0)
        print(
            f"  stored {check['rows']:,} notices for {len(stream):,} distinct (lost: {len(stream) - check['rows']}), "
            f"deliveries {check['deliveries']:,} for {ok:,} answered 200 (counted twice or missed: "
            f"{(check['deliveries'] or 0) - ok}); outcomes {check['outcomes']}"
        )
        print(f"  users {check['users']:,}, not in the state of their newest event: {check['users_wrong']}")
        print(f"  target: {2000:,}/s, p99 under 50 ms")
        run.print_server_log()


if __name__ == "__main__":
    main()
