"""Agora-compatible API under load: GET /dev/v1/projects and GET /dev/v3/usage (90 days) with gunicorn (2 workers)
and 16 concurrent clients, next to an unauthenticated health endpoint, plus the cost of the credential check.

Run from the repository root:  .venv/bin/python bench/api_load.py [--seconds 10] [--clients 16]

What it does, all on 127.0.0.1 and inside a temporary directory that is removed at the end (also on Ctrl-C):
1. the environment of bench/token_api.py (a throw-away SQLite database, or DATABASE_URL when set; DEBUG off)
   with the API rate limit off for the run (API_RATE_LIMIT_PER_SECOND=0 unless set: a high value measures
   the limit's own cost); `migrate`;
2. an organization, its admin and --projects Secured projects through accounts.services / projects.services,
   an API credential (Customer ID / Secret) for the admin, and 90 days of DailyUsage for the first project;
3. inside Django (test client, no network): the time of one request to each endpoint, of
   accounts.api_credentials.verify() with a warm cache, and of the whole Basic authentication (header
   decoding, verify, use count); the credential check's share of the project list's request time;
4. gunicorn (the production command's sync worker, 2 workers) on a free port; a check that the health
   endpoint (--health-path, default /healthz) answers 200 without credentials;
5. load on the health endpoint, the project list and the usage query, each for --seconds with --clients
   connections after --warmup: wrk when it is on PATH, else (or with --python) a Python asyncio generator.
   Either runs on the server's cores, the Python one taking much more of them: the figures are a lower bound.

Targets (REST API issue): 1,000 requests/s and p99 under 50 ms for the project list; the credential check
under 10% of a request's time.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import textwrap

from _http import Endpoint, Figures, Run, Target, add_load_options, check_load_options, fetch, http_request, load

LIST_TARGET = Target(rps=1000, p99_ms=50)
CHECK_SHARE_TARGET = 0.10  # the credential check's share of a request's time
DAYS = 90

# Django steps, each run in a child process with the bench environment -------------------------------------

SETUP_CODE = textwrap.dedent(
    """
    import json, random, secrets, sys, django
    django.setup()
    from datetime import timedelta
    from django.conf import settings
    from django.utils import timezone
    from accounts.api_credentials import create_credential
    from accounts.models import Membership, User
    from accounts.services import create_organization
    from projects.services import create_project
    from usage.models import DailyUsage

    args = json.loads(sys.argv[1])
    run = secrets.token_hex(4)  # a DATABASE_URL database may hold earlier runs
    user = User.objects.create_user(f"bench-api-{run}@example.test", secrets.token_urlsafe(16), name="Bench")
    organization = create_organization(user, f"Bench API {run}")
    membership = Membership.objects.get(user=user, organization=organization)
    projects = [create_project(membership, name=f"Bench project {number + 1}") for number in range(args["projects"])]
    pair = create_credential(membership, "bench")
    last = timezone.now().date() - timedelta(days=1)
    first = last - timedelta(days=args["days"] - 1)
    columns = ("audio", "video_hd", "video_full_hd", "video_2k", "video_2k_plus", "video_hd_plus")
    chance = random.Random(run)
    DailyUsage.objects.bulk_create(
        DailyUsage(
            project=projects[0],
            date=first + timedelta(days=offset),
            business="default",
            **{column: chance.randrange(0, 500_000) for column in columns},
        )
        for offset in range(args["days"])
    )
    default = settings.DATABASES["default"]
    print(json.dumps({
        "project_id": projects[0].project_id, "customer_id": pair.credential.customer_id, "secret": pair.secret,
        "first": first.isoformat(), "last": last.isoformat(),
        "database": default["ENGINE"].rsplit(".", 1)[-1], "conn_max_age": default.get("CONN_MAX_AGE"),
        "cache": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1],
        "rate_limit": settings.API_RATE_LIMIT_PER_SECOND,
    }))
    """
)

PROFILE_CODE = textwrap.dedent(
    """
    import json, sys, time, django
    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client, RequestFactory
    from rest_framework.request import Request
    from accounts.api_auth import CustomerCredentialAuthentication
    from accounts.api_credentials import verify

    args = json.loads(sys.argv[1])
    n = args["n"]
    settings.ALLOWED_HOSTS = ["127.0.0.1", "testserver"]
    client = Client(HTTP_HOST="127.0.0.1")

    def per_call(function, count=n):
        function()  # warm: caches filled, code paths imported
        started = time.perf_counter()
        for _ in range(count):
            function()
        return (time.perf_counter() - started) / count * 1e6

    requests, queries, statuses = {}, {}, {}
    for name, path, authenticated in args["paths"]:
        headers = {"HTTP_AUTHORIZATION": args["authorization"]} if authenticated else {}
        get = lambda: client.get(path, **headers)
        statuses[name] = get().status_code
        if statuses[name] != 200:
            continue
        logged = []
        def log_query(execute, sql, params, many, context):
            logged.append(sql)
            return execute(sql, params, many, context)
        with connection.execute_wrapper(log_query):
            get()
        queries[name] = [sql[:160] for sql in logged]
        requests[name] = per_call(get)

    customer_id, secret = args["customer_id"], args["secret"]
    assert verify(customer_id, secret) is not None, "verify() refused the bench credential"
    verify_us = per_call(lambda: verify(customer_id, secret), n * 10)
    authentication = CustomerCredentialAuthentication()
    request = Request(RequestFactory().get("/dev/v1/projects", HTTP_AUTHORIZATION=args["authorization"]))
    assert authentication.authenticate(request) is not None, "the Basic authentication refused the bench credential"
    authenticate_us = per_call(lambda: authentication.authenticate(request), n * 10)
    top = []
    if args["top"]:
        import cProfile, io, pstats
        name, path, _ = args["paths"][1]
        profiler = cProfile.Profile()
        profiler.runcall(lambda: [client.get(path, HTTP_AUTHORIZATION=args["authorization"]) for _ in range(n)])
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args["top"])
        top = [line for line in out.getvalue().splitlines() if line.strip()][-args["top"] - 1 :]
    print(json.dumps({
        "requests_us": requests, "queries": queries, "statuses": statuses,
        "verify_us": verify_us, "authenticate_us": authenticate_us, "top": top,
    }))
    """
)


# Reports --------------------------------------------------------------------------------------------------


def share_line(label: str, check_us: float, request_us: float, against: str) -> str:
    share = check_us / request_us
    verdict = "meets" if share < CHECK_SHARE_TARGET else "misses"
    return (
        f"  {label}: {check_us:,.1f} us of {request_us:,.0f} us ({against}) = {share:.1%}; "
        f"{verdict} the target (< {CHECK_SHARE_TARGET:.0%})"
    )


def print_comparison(profile: dict, figures: dict[str, Figures], workers: int, health_path: str) -> None:
    verify_us, authenticate_us = profile["verify_us"], profile["authenticate_us"]
    print("\nCredential check (in-process, warm cache):")
    print(f"  accounts.api_credentials.verify(): {verify_us:,.1f} us per call")
    print(f"  whole Basic authentication (header decoding, verify, use count): {authenticate_us:,.1f} us per call")
    in_process = profile["requests_us"].get("projects")
    if in_process:
        against = "GET /dev/v1/projects in-process"
        print(share_line("verify() / request", verify_us, in_process, against))
        print(share_line("authentication / request", authenticate_us, in_process, against))
    projects, health = figures.get("projects"), figures.get("health")
    if projects is None or not projects.rps:
        return
    # With sync workers each request holds one worker: workers / (requests/s) is a request's time in a worker.
    over_http = workers / projects.rps * 1e6
    print(
        share_line("authentication / request", authenticate_us, over_http, f"{workers} workers / requests/s over HTTP")
    )
    if health is None or not health.rps:
        print(f"  (no comparison with {health_path}: it was not measured)")
        return
    health_us = workers / health.rps * 1e6
    extra = over_http - health_us
    print(
        f"  over HTTP, per request in a worker: {health_path} {health_us:,.0f} us, project list {over_http:,.0f} us; "
        f"the difference, {extra:,.0f} us ({extra / over_http:.0%} of the list), is the authentication plus the "
        f"view's own work (an upper bound for the check)"
    )


# Main -----------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_load_options(parser)
    parser.add_argument("--projects", type=int, default=1, help="projects in the organization's list (default 1)")
    parser.add_argument("--health-path", default="/healthz", help="unauthenticated health endpoint (default /healthz)")
    parser.add_argument("--no-profile", action="store_true", help="skip the in-process timings")
    parser.add_argument(
        "--profile-top", type=int, default=0, metavar="N", help="also print cProfile's top N functions (project list)"
    )
    options = parser.parse_args()
    check_load_options(parser, options)
    if not 1 <= options.projects <= 100:
        parser.error("--projects 1..100")

    with Run() as run:
        run.prepare()
        setup = run.django(SETUP_CODE, json.dumps({"projects": options.projects, "days": DAYS}))
        pair = f"{setup['customer_id']}:{setup['secret']}".encode()
        authorization = f"Basic {base64.b64encode(pair).decode()}"
        list_path = "/dev/v1/projects"
        usage_path = (
            f"/dev/v3/usage?project_id={setup['project_id']}&from_date={setup['first']}&to_date={setup['last']}"
            "&business=default"
        )
        print(
            f"Database {setup['database']} (CONN_MAX_AGE={setup['conn_max_age']}), cache {setup['cache']}, "
            f"API_RATE_LIMIT_PER_SECOND={setup['rate_limit']}, {options.projects} project(s), usage of "
            f"{setup['project_id']} {setup['first']}..{setup['last']}, {os.cpu_count()} CPUs, "
            f"Python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.2f} (other work on the cores "
            "lowers every figure)"
        )
        paths = [("health", options.health_path, False), ("projects", list_path, True), ("usage", usage_path, True)]

        profile = None
        if not options.no_profile:
            arguments = {**setup, "authorization": authorization, "paths": paths, "n": 300, "top": options.profile_top}
            profile = run.django(PROFILE_CODE, json.dumps(arguments))
            print("\nOne request of each inside Django (test client, no network):")
            for name, path, _ in paths:
                if name in profile["requests_us"]:
                    count = len(profile["queries"][name])
                    noun = "query" if count == 1 else "queries"
                    print(f"  {profile['requests_us'][name]:8.0f} us  GET {path} ({count} {noun})")
                    for sql in profile["queries"][name]:
                        print(f"              {sql}")
                else:
                    print(f"  answered {profile['statuses'][name]}: GET {path}")
            if profile["top"]:
                print(f"cProfile of 300 GET {list_path}, top {options.profile_top} by cumulative time (with overhead):")
                print("\n".join(profile["top"]))

        port = run.start_server(options)
        auth = [f"Authorization: {authorization}"]
        endpoints = {
            "health": Endpoint(f"GET {options.health_path} (no credentials)", options.health_path),
            "projects": Endpoint(f"GET {list_path}", list_path, auth, target=LIST_TARGET),
            "usage": Endpoint(f"GET /dev/v3/usage ({DAYS} days)", usage_path, auth),
        }
        status, answer = fetch(port, http_request("GET", options.health_path, port))
        if status != 200:
            print(
                f"\nGET {options.health_path} answered {status}, not 200: the app has no unauthenticated health "
                f'endpoint there (expected: 200 with {{"status": "ok"}}, no credentials). The comparison '
                "with it is skipped; --health-path names another."
            )
            del endpoints["health"]
        for name, key in (("projects", "projects"), ("usage", "usages")):
            path = endpoints[name].path
            status, answer = fetch(port, http_request("GET", path, port, auth))
            if status == 404 and "message" not in answer and "detail" not in answer:
                raise SystemExit(f"GET {path} answered 404: the Agora-compatible API is not routed yet.")
            if status != 200:
                raise SystemExit(f"The server refused the bench request GET {path}: {status} {answer}")
            found = answer.get(key)
            if name == "usage" and (not isinstance(found, list) or len(found) != DAYS):
                count = len(found) if isinstance(found, list) else "no"
                print(f"Note: GET /dev/v3/usage answered with {count} {key!r} entries, {DAYS} expected.")
            if name == "projects" and setup["project_id"] not in json.dumps(found):
                print(f"Note: GET {list_path} did not list the bench project under {key!r}: {answer}")

        measured = load(run, options, list(endpoints.values()))
        figures = dict(zip(endpoints, measured, strict=True))
        if profile is not None:
            print_comparison(profile, figures, options.workers, options.health_path)
        run.print_server_log()


if __name__ == "__main__":
    main()
