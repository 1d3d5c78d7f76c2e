"""Token API over HTTP: requests/s and p50/p99 latency with gunicorn (2 workers) and 16 concurrent clients.

Run from the repository root:  .venv/bin/python bench/token_api.py [--seconds 10] [--clients 16]

What it does, all on 127.0.0.1 and inside a temporary directory that is removed at the end (also on Ctrl-C):
1. a throw-away SQLite database (or DATABASE_URL when set: then it must be a database you can migrate and fill),
   CONSOLE_VAR_DIR = the temp dir, DEBUG=false, a random SECRET_KEY, ALLOWED_HOSTS=127.0.0.1; `migrate`;
2. an organization, its admin and a Secured project through accounts.services / projects.services, and a
   signed-in session for the admin (SessionStore with Django's auth keys) plus a CSRF cookie/header pair;
3. a profile of one request inside Django (test client, no network): queries and the time of each step;
4. gunicorn (default: the production command's sync worker, 2 workers) on a free port;
5. load: `POST /api/v1/projects/<id>/tokens` (session + CSRF), then `GET` the community RTC path, each for
   --seconds with --clients connections after --warmup. wrk is used when it is on PATH (`apt-get install wrk`),
   else (or with --python) a Python asyncio generator with raw sockets and keep-alive (when the server allows
   it: gunicorn's sync worker closes every connection). Either generator runs on the same cores as the server
   and takes part of their time, the Python one much more: the figures are a lower bound.

Options to try changes without editing the app: CONN_MAX_AGE=60 in the environment (persistent database
connections), --worker-class gthread --threads 4, --app some_module:application (a WSGI module on PYTHONPATH).

Target (issue 4): 1,500 requests/s, p99 under 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
TARGET_RPS, TARGET_P99_MS = 1500, 50
CHANNEL = "bench-channel"
SETUP_SECONDS = 120  # migrate + setup + profile, at most
START_SECONDS = 30  # gunicorn must answer within this


# Running Django steps in a child process with the bench environment ------------------------------------------

SETUP_CODE = textwrap.dedent(
    """
    import json, secrets, django
    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from accounts.middleware import SESSION_KEY as ORGANIZATION_KEY
    from accounts.models import Membership, User
    from accounts.services import create_organization
    from projects.services import create_project

    run = secrets.token_hex(4)  # a DATABASE_URL database may hold earlier runs
    user = User.objects.create_user(f"bench-{run}@example.test", secrets.token_urlsafe(16), name="Bench")
    organization = create_organization(user, f"Bench {run}")
    membership = Membership.objects.get(user=user, organization=organization)
    project = create_project(membership, name="Bench project")
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session[ORGANIZATION_KEY] = organization.pk  # else the first request of each session writes it
    session.create()
    print(json.dumps({
        "project_id": project.project_id, "app_id": project.app_id, "session": session.session_key,
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "conn_max_age": settings.DATABASES["default"].get("CONN_MAX_AGE"),
    }))
    """
)

PROFILE_CODE = textwrap.dedent(
    """
    import json, sys, time, django
    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connection
    from django.test import Client
    from accounts.access import get_for_member
    from accounts.middleware import current_membership
    from console.crypto import decrypt
    from projects.models import Project
    from tokens.services import build_token

    args = json.loads(sys.argv[1])
    n = args["n"]
    settings.ALLOWED_HOSTS = ["127.0.0.1", "testserver"]
    client = Client(HTTP_HOST="127.0.0.1")
    client.cookies["sessionid"] = args["session"]
    client.cookies["csrftoken"] = args["csrf"]
    url = "/api/v1/projects/%s/tokens" % args["project_id"]
    body = json.dumps({"type": "rtc", "channel": args["channel"], "uid": 42, "role": "publisher", "expire": 3600})

    def post():
        response = client.post(url, body, content_type="application/json", HTTP_X_CSRFTOKEN=args["csrf"])
        assert response.status_code == 200, response.content
        return response

    def per_call(function, count=n):
        function()
        started = time.perf_counter()
        for _ in range(count):
            function()
        return (time.perf_counter() - started) / count * 1e6

    post()
    queries = []
    def log_query(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)
    with connection.execute_wrapper(log_query):
        post()
    steps = {"whole request (test client, no network)": per_call(post)}

    class Request:  # what the middleware sees
        pass

    request = Request()
    def session_and_user():
        request.session = SessionStore(args["session"])
        request.user = get_user(request)
        return request.user
    steps["session load + user (2 queries)"] = per_call(session_and_user)
    session_and_user()
    membership = current_membership(request)
    steps["current membership (1 query)"] = per_call(lambda: current_membership(request))
    queryset = Project.objects.select_related("organization").prefetch_related("certificates")
    get_project = lambda: get_for_member(membership, queryset, project_id=args["project_id"])
    steps["project + certificates, decrypted (2 queries)"] = per_call(get_project)
    with connection.cursor() as raw:
        raw.execute(
            "SELECT c.value FROM projects_certificate c JOIN projects_project p ON p.id = c.project_id"
            " WHERE p.project_id = %s",
            [args["project_id"]],
        )
        ciphertext = raw.fetchone()[0]
    steps["certificate decrypt (Fernet) alone"] = per_call(lambda: decrypt(ciphertext), n * 10)
    project = get_project()
    params = {"channel": args["channel"], "uid": 42, "role": "publisher", "expire": 3600}
    steps["build_token (rules + check + AccessToken2)"] = per_call(lambda: build_token(project, "rtc", params), n * 10)
    top = []
    if args["top"]:
        import cProfile, io, pstats
        profiler = cProfile.Profile()
        profiler.runcall(lambda: [post() for _ in range(n)])
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args["top"])
        top = [line for line in out.getvalue().splitlines() if line.strip()][-args["top"] - 1 :]
    print(json.dumps({
        "top": top,
        "queries": [sql[:160] for sql in queries],
        "steps_us": steps,
    }))
    """
)


def run_django(code: str, env: dict, *args: str, timeout: float = SETUP_SECONDS) -> str:
    result = subprocess.run(
        [PYTHON, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"A Django step failed:\n{result.stderr[-3000:]}")
    return result.stdout.strip().splitlines()[-1]


# Load generators -------------------------------------------------------------------------------------------


def http_request(method: str, path: str, port: int, session: str, csrf: str, body: bytes = b"") -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        f"Cookie: sessionid={session}; csrftoken={csrf}",
        "Accept: application/json",
        "Connection: keep-alive",
    ]
    if method == "POST":
        lines += [
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            f"X-CSRFToken: {csrf}",
            f"Origin: http://127.0.0.1:{port}",
            f"Referer: http://127.0.0.1:{port}/",
        ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _one_client(port: int, request: bytes, stop_at: float, record_from: float, results: dict) -> None:
    reader = writer = None
    while True:
        started = time.perf_counter()
        if started >= stop_at:
            break
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                results["connections"] += 1
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length, close = 0, False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            if length:
                await reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as error:
            results["errors"][type(error).__name__] += 1
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.01)
            continue
        finished = time.perf_counter()
        if started >= record_from:
            results["latencies"].append(finished - started)
            results["statuses"][status] += 1
        if close:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


def python_load(port: int, request: bytes, clients: int, seconds: float, warmup: float) -> dict:
    results = {"latencies": [], "statuses": Counter(), "errors": Counter(), "connections": 0}

    async def main():
        now = time.perf_counter()
        record_from, stop_at = now + warmup, now + warmup + seconds
        runs = [_one_client(port, request, stop_at, record_from, results) for _ in range(clients)]
        clients_done = asyncio.gather(*runs)
        try:  # a hung server cannot hold the bench: every client stops 15 s after the end at the latest
            await asyncio.wait_for(clients_done, timeout=warmup + seconds + 15)
        except TimeoutError:
            results["errors"]["TimeoutError (clients stopped)"] += 1

    asyncio.run(main())
    results["seconds"] = seconds
    return results


WRK_LUA = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Cookie"] = "sessionid={session}; csrftoken={csrf}"
wrk.headers["X-CSRFToken"] = "{csrf}"
wrk.headers["Origin"] = "http://127.0.0.1:{port}"
"""


def wrk_load(wrk: str, url: str, clients: int, seconds: float, headers: list[str], script: Path | None) -> str:
    command = [wrk, "-t2", f"-c{clients}", f"-d{max(1, round(seconds))}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    if script is not None:
        command += ["-s", str(script)]
    result = subprocess.run([*command, url], capture_output=True, text=True, timeout=seconds + 30, check=False)
    return result.stdout + result.stderr


def wrk_summary(label: str, output: str) -> str:
    """One line like the Python generator's, from wrk's --latency output."""
    found = {
        "rps": re.search(r"Requests/sec:\s*([\d.]+)", output),
        "p50": re.search(r"^\s*50%\s+([\d.]+\w+)", output, re.MULTILINE),
        "p99": re.search(r"^\s*99%\s+([\d.]+\w+)", output, re.MULTILINE),
        "bad": re.search(r"Non-2xx or 3xx responses:\s*(\d+)", output),
        "errors": re.search(r"Socket errors:.*", output),
    }
    if not found["rps"]:
        return f"{label}: wrk gave no figures:\n{output}"
    p99 = found["p99"].group(1) if found["p99"] else "?"
    p99_ms = _milliseconds(p99)
    rps = float(found["rps"].group(1))
    verdict = "meets" if rps >= TARGET_RPS and p99_ms is not None and p99_ms < TARGET_P99_MS else "misses"
    return (
        f"{label}: {rps:,.0f} requests/s, p50 {found['p50'].group(1) if found['p50'] else '?'}, p99 {p99}; "
        f"non-2xx {found['bad'].group(1) if found['bad'] else 0}"
        f"{'; ' + found['errors'].group(0) if found['errors'] else ''}; "
        f"{verdict} the target ({TARGET_RPS:,}/s, p99 < {TARGET_P99_MS} ms)"
    )


def _milliseconds(text: str) -> float | None:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not match:
        return None
    return float(match.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[match.group(2)]


def report(label: str, results: dict) -> None:
    latencies = sorted(results["latencies"])
    count = len(latencies)
    if not count:
        print(f"{label}: no completed requests; errors {dict(results['errors'])}")
        return

    def percentile(p: float) -> float:
        return latencies[min(count - 1, int(p / 100 * count))] * 1000

    rps = count / results["seconds"]
    verdict = "meets" if rps >= TARGET_RPS and percentile(99) < TARGET_P99_MS else "misses"
    print(
        f"{label}: {rps:,.0f} requests/s, p50 {percentile(50):.1f} ms, p90 {percentile(90):.1f} ms, "
        f"p99 {percentile(99):.1f} ms, max {latencies[-1] * 1000:.1f} ms, "
        f"mean {statistics.fmean(latencies) * 1000:.1f} ms"
    )
    print(
        f"    {count:,} requests in {results['seconds']:.0f} s, statuses {dict(results['statuses'])}, "
        f"TCP connections {results['connections']:,}, errors {dict(results['errors']) or 'none'}; "
        f"{verdict} the target ({TARGET_RPS:,}/s, p99 < {TARGET_P99_MS} ms)"
    )


# Server ----------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(port: int, server: subprocess.Popen, deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with status {server.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
                connection.sendall(b"GET /api/schema/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                if connection.recv(12)[8:12] == b" 200":
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer within {START_SECONDS} s")


def stop(server: subprocess.Popen | None) -> None:
    if server is None or server.poll() is not None:
        return
    server.send_signal(signal.SIGTERM)  # the arbiter stops its workers
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)  # its own session: the arbiter and its workers only
        server.wait(timeout=5)


def fetch(port: int, request: bytes) -> tuple[int, dict]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request.replace(b"Connection: keep-alive", b"Connection: close"))
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head[9:12]), json.loads(body or b"{}")


# Main ------------------------------------------------------------------------------------------------------


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per endpoint (default 10)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each (default 1)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent connections (default 16)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class (default sync, as in production)")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker for --worker-class gthread")
    parser.add_argument("--app", default="console.wsgi:application", help="WSGI app for gunicorn (to try changes)")
    parser.add_argument("--python", action="store_true", help="use the Python load generator even if wrk exists")
    parser.add_argument("--no-profile", action="store_true", help="skip the in-process profile of one request")
    parser.add_argument("--profile-top", type=int, default=0, metavar="N", help="also print cProfile's top N functions")
    options = parser.parse_args()
    if not 0 < options.seconds <= 120 or not 0 <= options.warmup <= 10 or not 1 <= options.clients <= 256:
        parser.error("--seconds 0..120, --warmup 0..10, --clients 1..256")

    workdir = Path(tempfile.mkdtemp(prefix="console-bench-"))
    server = server_log = None
    previous = {number: signal.signal(number, _interrupt) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        env = dict(os.environ)
        env.update(
            CONSOLE_VAR_DIR=str(workdir),
            DEBUG="false",
            SECRET_KEY=secrets.token_urlsafe(50),
            ALLOWED_HOSTS="127.0.0.1",
            DJANGO_SETTINGS_MODULE="console.settings",
            STATIC_ROOT=str(workdir / "static"),
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])),
        )
        env.setdefault("DATABASE_URL", f"sqlite:///{workdir / 'console.sqlite3'}")
        env.pop("CONSOLE_ENCRYPTION_KEYS", None)  # a throw-away key in the temp dir
        print(f"Setting up in {workdir} ...", flush=True)
        subprocess.run(
            [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=SETUP_SECONDS,
        )
        (workdir / "static").mkdir()  # the API serves no static files; this only keeps WhiteNoise quiet
        setup = json.loads(run_django(SETUP_CODE, env))
        csrf = secrets.token_hex(16)  # a 32-character CSRF secret: the cookie and the header carry the same
        print(
            f"Database {setup['database']} (CONN_MAX_AGE={setup['conn_max_age']}), project {setup['project_id']}, "
            f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
        )

        if not options.no_profile:
            arguments = {**setup, "csrf": csrf, "channel": CHANNEL, "n": 300, "top": options.profile_top}
            profile = json.loads(run_django(PROFILE_CODE, env, json.dumps(arguments)))
            print(f"\nOne POST inside Django ({len(profile['queries'])} queries):")
            for sql in profile["queries"]:
                print(f"    {sql}")
            for step, microseconds in profile["steps_us"].items():
                print(f"  {microseconds:8.0f} us  {step}")
            if profile["top"]:
                print(f"cProfile of 300 POSTs, top {options.profile_top} by cumulative time (with profiler overhead):")
                print("\n".join(profile["top"]))

        port = free_port()
        command = [
            str(Path(PYTHON).with_name("gunicorn")),
            options.app,
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(options.workers),
            "--worker-class",
            options.worker_class,
            "--threads",
            str(options.threads),
            "--worker-tmp-dir",
            "/dev/shm" if Path("/dev/shm").is_dir() else str(workdir),
            "--log-level",
            "warning",
        ]
        server_log = open(workdir / "gunicorn.log", "wb")
        server = subprocess.Popen(
            command, cwd=ROOT, env=env, start_new_session=True, stdout=server_log, stderr=subprocess.STDOUT
        )
        wait_until_up(port, server, time.monotonic() + START_SECONDS)

        body = json.dumps(
            {"type": "rtc", "channel": CHANNEL, "uid": 42, "role": "publisher", "expire": 3600}, separators=(",", ":")
        ).encode()
        tokens_path = f"/api/v1/projects/{setup['project_id']}/tokens"
        community_path = f"/api/v1/projects/{setup['project_id']}/rtc/{CHANNEL}/publisher/uid/42/?expiry=3600"
        post = http_request("POST", tokens_path, port, setup["session"], csrf, body)
        get = http_request("GET", community_path, port, setup["session"], csrf)
        for request, key in ((post, "token"), (get, "rtcToken")):
            status, answer = fetch(port, request)
            if status != 200 or not str(answer.get(key, "")).startswith("007"):
                raise SystemExit(f"The server refused the bench request: {status} {answer}")

        wrk = None if options.python else shutil.which("wrk")
        print(
            f"\ngunicorn {options.app}, {options.workers} workers ({options.worker_class}"
            f"{f', {options.threads} threads' if options.worker_class == 'gthread' else ''}), "
            f"{options.clients} concurrent clients, {options.seconds:g} s each after {options.warmup:g} s warm-up; "
            f"load generator: {'wrk (' + wrk + ')' if wrk else 'Python asyncio, raw sockets, same machine'}"
        )
        if wrk:
            script = workdir / "post.lua"
            script.write_text(
                WRK_LUA.format(body=json.dumps(body.decode()), session=setup["session"], csrf=csrf, port=port)
            )
            cookie = f"Cookie: sessionid={setup['session']}; csrftoken={csrf}"
            runs = [
                (f"POST {tokens_path}", tokens_path, [], script),
                ("GET community RTC path", community_path, [cookie], None),
            ]
            summaries = []
            for label, path, headers, lua in runs:
                url = f"http://127.0.0.1:{port}{path}"
                if options.warmup:
                    wrk_load(wrk, url, options.clients, options.warmup, headers, lua)
                output = wrk_load(wrk, url, options.clients, options.seconds, headers, lua)
                print(f"{label}\n{output.rstrip()}\n")
                summaries.append(wrk_summary(label, output))
            print("\n".join(summaries))
        else:
            for label, request in ((f"POST {tokens_path}", post), ("GET community RTC path", get)):
                report(label, python_load(port, request, options.clients, options.seconds, options.warmup))
        log = (workdir / "gunicorn.log").read_text(errors="replace").strip()
        if log:
            print("\ngunicorn said (last lines):\n" + "\n".join(log.splitlines()[-15:]))
    except KeyboardInterrupt:
        print("\nInterrupted: stopping gunicorn and removing the temp dir.")
        sys.exit(130)
    finally:
        stop(server)
        if server_log is not None:
            server_log.close()
        for number, handler in previous.items():
            signal.signal(number, handler)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
