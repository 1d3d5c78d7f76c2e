"""The embedded default (SQLite) under concurrent writes, before and after its concurrency settings.

For each of two setups, on a fresh SQLite file in a temporary directory behind gunicorn (2 workers x 8
threads): invitation acceptances by new users all sent at once, payment forms all sent at once by one Finance
member, and `manage.py close_month` runs started at once; a few of the requests are sent twice, as a double
click would. It prints, per scenario, the requests, the statuses (500s first), the wall time, and what the
database holds afterwards (each invitation accepted once, one payment per form, one statement per
organization).

- before: SQLite as Django opens it by default: rollback journal, DEFERRED transactions, Python's 5 s busy
  timeout, and no 503 for a write still locked out;
- after: the project's settings (WAL, IMMEDIATE transactions, a 20 s busy timeout, console.db_busy).

Passwords are hashed with Django's default PBKDF2 (before the acceptance's transaction, so outside the write
lock), unless --fast-hasher. The machinery is the one of console/tests/test_sqlite_concurrency.py.

    .venv/bin/python bench/sqlite_concurrency.py
    .venv/bin/python bench/sqlite_concurrency.py --help
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from console.tests import test_sqlite_concurrency as harness  # noqa: E402

BEFORE = (
    'DATABASES["default"]["OPTIONS"] = {"init_command": "PRAGMA journal_mode=DELETE"}  # noqa: F405\n'
    'MIDDLEWARE.remove("console.db_busy.DatabaseBusyMiddleware")  # noqa: F405\n'
)
SETUPS = {
    "before": ("rollback journal, DEFERRED transactions, 5 s busy timeout, no 503 mapping", BEFORE),
    "after": ("WAL, IMMEDIATE transactions, 20 s busy timeout, 503 when still locked", ""),
}


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invitations", type=int, default=harness.INVITATIONS, help="distinct invitations (20)")
    parser.add_argument("--payments", type=int, default=harness.PAYMENTS, help="distinct payment forms (20)")
    parser.add_argument("--repeats", type=int, default=harness.REPEATS, help="of each, sent twice (4)")
    parser.add_argument("--close-runs", type=int, default=harness.CLOSE_RUNS, help="close_month processes (4)")
    parser.add_argument("--organizations", type=int, default=harness.ORGANIZATIONS, help="billed organizations (4)")
    parser.add_argument("--fast-hasher", action="store_true", help="MD5 passwords, as the tests use")
    parser.add_argument("--only", choices=sorted(SETUPS), help="one setup only")
    chosen = parser.parse_args()
    if not (1 <= chosen.invitations <= 200 and 1 <= chosen.payments <= 200 and 1 <= chosen.close_runs <= 20):
        parser.error("--invitations and --payments 1..200, --close-runs 1..20")
    if not (0 <= chosen.repeats <= min(chosen.invitations, chosen.payments) and 1 <= chosen.organizations <= 50):
        parser.error("--repeats 0..the smaller of --invitations and --payments, --organizations 1..50")
    return chosen


def outcome(responses: list, seconds: float) -> str:
    counts = harness.statuses(responses)
    shown = ", ".join(f"{status} x {count}" for status, count in sorted(counts.items(), key=lambda item: -item[0]))
    return f"{len(responses)} requests in {seconds:.1f} s: 500s {counts[500]} ({shown})"


def timed(action):
    started = time.monotonic()
    result = action()
    return result, time.monotonic() - started


def bench(name: str, chosen: argparse.Namespace) -> None:
    label, settings_lines = SETUPS[name]
    print(f"\n{name}: {label}", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="console-bench-sqlite-"))
    lines = harness.NO_MANIFEST + settings_lines + (harness.FAST_HASHER if chosen.fast_hasher else "")
    site = None
    try:
        site = harness.prepare(workdir, lines, chosen.invitations, chosen.organizations)
        harness.start_server(site)
        run_scenarios(site, chosen)
    finally:
        if site is not None:
            harness.stop_server(site)
        shutil.rmtree(workdir, ignore_errors=True)


def run_scenarios(site: harness.Site, chosen: argparse.Namespace) -> None:
    responses, seconds = timed(lambda: harness.accept_invitations(site, chosen.repeats))
    print(f"  invitation acceptances ({chosen.invitations} + {chosen.repeats} repeated): {outcome(responses, seconds)}")
    print(f"    held: {harness.joined(site)} (each should be {chosen.invitations})")
    responses, seconds = timed(lambda: harness.record_payments(site, chosen.payments, chosen.repeats))
    print(f"  payments ({chosen.payments} forms + {chosen.repeats} repeated): {outcome(responses, seconds)}")
    print(f"    held: {harness.payments(site)} (payments should equal forms; {chosen.payments} when none failed)")
    runs, seconds = timed(lambda: harness.close_months(site, chosen.close_runs))
    failed = [run for run in runs if run.returncode != 0]
    locked = sum("database is locked" in run.stderr for run in failed)
    print(f"  close_month: {len(runs)} runs in {seconds:.1f} s: {len(failed)} failed ({locked} 'database is locked')")
    print(
        f"    held: {harness.statements(site)}, issued by the runs {harness.issued_by(runs)} "
        f"(one statement per organization: {chosen.organizations})"
    )


def main() -> None:
    chosen = options()
    hasher = "MD5 (--fast-hasher)" if chosen.fast_hasher else "PBKDF2, Django's default"
    print(f"SQLite under concurrent writes: gunicorn 2 workers x 8 threads; password hashing {hasher}")
    for name in [chosen.only] if chosen.only else list(SETUPS):
        bench(name, chosen)


if __name__ == "__main__":
    main()
