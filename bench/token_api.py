"""Token API over HTTP: requests/s and p50/p99 latency with gunicorn (2 workers) and 16 concurrent clients.

Run from the repository root:  .venv/bin/python bench/token_api.py [--seconds 10] [--clients 16]

What it does, all on 127.0.0.1 and inside a temporary directory that is removed at the end (also on Ctrl-C):
1. a throw-away SQLite database (or DATABASE_URL when set: then it must be a database you can migrate and fill),
   CONSOLE_VAR_DIR = the temp dir, DEBUG=false, a random SECRET_KEY, ALLOWED_HOSTS=127.0.0.1, the API rate limit
   off (API_RATE_LIMIT_PER_SECOND=0 unless set); `migrate`;
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
import json
import os
import secrets
import sys
import textwrap

from _http import Endpoint, Run, Target, add_load_options, check_load_options, fetch, http_request, load

TARGET = Target(rps=1500, p99_ms=50)
CHANNEL = "bench-channel"


# Django steps, each run in a child process with the bench environment -------------------------------------

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


# Main ------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_load_options(parser)
    parser.add_argument("--no-profile", action="store_true", help="skip the in-process profile of one request")
    parser.add_argument("--profile-top", type=int, default=0, metavar="N", help="also print cProfile's top N functions")
    options = parser.parse_args()
    check_load_options(parser, options)

    with Run() as run:
        run.prepare()
        setup = run.django(SETUP_CODE)
        csrf = secrets.token_hex(16)  # a 32-character CSRF secret: the cookie and the header carry the same
        print(
            f"Database {setup['database']} (CONN_MAX_AGE={setup['conn_max_age']}), project {setup['project_id']}, "
            f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
        )

        if not options.no_profile:
            arguments = {**setup, "csrf": csrf, "channel": CHANNEL, "n": 300, "top": options.profile_top}
            profile = run.django(PROFILE_CODE, json.dumps(arguments))
            print(f"\nOne POST inside Django ({len(profile['queries'])} queries):")
            for sql in profile["queries"]:
                print(f"    {sql}")
            for step, microseconds in profile["steps_us"].items():
                print(f"  {microseconds:8.0f} us  {step}")
            if profile["top"]:
                print(f"cProfile of 300 POSTs, top {options.profile_top} by cumulative time (with profiler overhead):")
                print("\n".join(profile["top"]))

        port = run.start_server(options)
        body = json.dumps(
            {"type": "rtc", "channel": CHANNEL, "uid": 42, "role": "publisher", "expire": 3600}, separators=(",", ":")
        ).encode()
        tokens_path = f"/api/v1/projects/{setup['project_id']}/tokens"
        community_path = f"/api/v1/projects/{setup['project_id']}/rtc/{CHANNEL}/publisher/uid/42/?expiry=3600"
        cookie = f"Cookie: sessionid={setup['session']}; csrftoken={csrf}"
        csrf_headers = [
            f"X-CSRFToken: {csrf}",
            f"Origin: http://127.0.0.1:{port}",
            f"Referer: http://127.0.0.1:{port}/",
        ]
        post = Endpoint(f"POST {tokens_path}", tokens_path, [cookie, *csrf_headers], "POST", body, TARGET)
        get = Endpoint("GET community RTC path", community_path, [cookie], target=TARGET)
        for endpoint, key in ((post, "token"), (get, "rtcToken")):
            status, answer = fetch(
                port, http_request(endpoint.method, endpoint.path, port, endpoint.headers, body=endpoint.body)
            )
            if status != 200 or not str(answer.get(key, "")).startswith("007"):
                raise SystemExit(f"The server refused the bench request: {status} {answer}")

        load(run, options, [post, get])
        run.print_server_log()


if __name__ == "__main__":
    main()
