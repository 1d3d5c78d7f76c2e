"""The embedded default holds concurrent use: on SQLite, tens of requests that write at the same moment, and
month closes run side by side, answer no 500 and keep every invariant; a write that still finds the
database locked after the busy timeout answers 503 with a message.

A real server on a real file: gunicorn (2 worker processes x 8 threads, so processes and threads both
contend for the write lock) on a SQLite database in a temporary directory, migrated and seeded in child
processes. The test database of pytest (in memory, one connection) could not show any of this. The figures
before and after the change come from bench/sqlite_concurrency.py, which uses the same pieces.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
GUNICORN = str(Path(PYTHON).with_name("gunicorn"))
SETTINGS_MODULE = "sqlite_concurrency_settings"
# As in every test (conftest): static files without a collected manifest, and a fast password hasher, since
# the write lock is under test, not the cost of PBKDF2.
NO_MANIFEST = 'STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa\n'
FAST_HASHER = 'PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]\n'
TEST_SETTINGS = NO_MANIFEST + FAST_HASHER
CSRF = "c" * 32  # a CSRF secret in cookie and form alike is what Django checks
PASSWORD = "violet-harbour-7193"
STEP_TIMEOUT = 60  # seconds: migrate, seed, a month close, a server start
REQUEST_TIMEOUT = 60  # seconds; the busy timeout is shorter, so a request answers before this
INVITATIONS = 20
PAYMENTS = 20
REPEATS = 4  # of those, sent a second time at the same moment (a double click)
CLOSE_RUNS = 3
ORGANIZATIONS = 4  # each with usage in the month closed


# The site: a temporary directory with its database, settings and server ---------------------------------


@dataclass
class Site:
    workdir: Path
    env: dict
    seeded: dict = field(default_factory=dict)
    port: int = 0
    server: subprocess.Popen | None = None

    @property
    def database(self) -> Path:
        return self.workdir / "console.sqlite3"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def count(self, sql: str, *params) -> int:
        with sqlite3.connect(self.database, timeout=REQUEST_TIMEOUT) as db:
            return db.execute(sql, params).fetchone()[0]

    def server_log(self, lines: int = 40) -> str:
        log = self.workdir / f"server-{self.port}.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


def prepare(
    workdir: Path,
    settings_lines: str = TEST_SETTINGS,
    invitations: int = INVITATIONS,
    organizations: int = ORGANIZATIONS,
) -> Site:
    """Settings module, environment, then `migrate` and the seed (one child process), in `workdir`."""
    (workdir / f"{SETTINGS_MODULE}.py").write_text(f"from console.settings import *  # noqa: F403\n{settings_lines}")
    env = {key: value for key, value in os.environ.items() if key not in ("CONSOLE_ENCRYPTION_KEYS", "REDIS_URL")}
    env.update(
        CONSOLE_VAR_DIR=str(workdir),
        DATABASE_URL=f"sqlite:///{workdir / 'console.sqlite3'}",
        DJANGO_SETTINGS_MODULE=SETTINGS_MODULE,
        PYTHONPATH=os.pathsep.join([str(workdir), str(ROOT)]),
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        API_RATE_LIMIT_PER_SECOND="0",
    )
    site = Site(workdir, env)
    seeded = run(site, "-c", f"from {__name__} import seed; seed({invitations}, {organizations})")
    site.seeded = json.loads(seeded.stdout.splitlines()[-1])
    return site


def run(site: Site, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([PYTHON, *args], cwd=ROOT, env=site.env, capture_output=True, text=True, timeout=STEP_TIMEOUT)
    assert done.returncode == 0, f"{args} failed:\n{done.stderr[-3000:]}"
    return done


def start_server(site: Site, *, threads: int = 8, workers: int = 2) -> None:
    site.port = free_port()
    log = open(site.workdir / f"server-{site.port}.log", "wb")  # noqa: SIM115 (the server writes it until stopped)
    command = [GUNICORN, "console.wsgi:application", "--bind", f"127.0.0.1:{site.port}", "--workers", str(workers)]
    command += ["--worker-class", "gthread", "--threads", str(threads), "--timeout", "90", "--log-level", "warning"]
    command += ["--preload"]  # Django loaded once, then forked: each worker opens its own connections
    site.server = subprocess.Popen(command, cwd=ROOT, env=site.env, stdout=log, stderr=log, start_new_session=True)
    log.close()
    deadline = time.monotonic() + STEP_TIMEOUT
    while time.monotonic() < deadline:
        assert site.server.poll() is None, f"gunicorn exited:\n{site.server_log()}"
        try:
            if requests.get(f"{site.url}/healthz", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass  # not listening yet, or its workers still loading
        time.sleep(0.2)
    raise AssertionError(f"gunicorn did not answer within {STEP_TIMEOUT} s:\n{site.server_log()}")


def stop_server(site: Site) -> None:
    if site.server is None or site.server.poll() is not None:
        return
    site.server.send_signal(signal.SIGINT)  # gunicorn's quick shutdown: nothing of a test server to finish
    try:
        site.server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(site.server.pid, signal.SIGKILL)  # its own session: this gunicorn and its workers only
        site.server.wait(timeout=5)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# The seed (runs in a child process with the site's settings) ----------------------------------------------


def seed(invitations: int, organizations: int) -> None:
    """A migrated database with Acme, its Admin and a Finance member (each with a signed-in session),
    `invitations` pending invitations, and `organizations` organizations (Acme first) with usage in last month.
    Prints JSON."""
    import django

    django.setup()
    from django.conf import settings
    from django.core import mail
    from django.core.management import call_command

    from accounts.models import Membership, User
    from accounts.services import create_organization, ensure_builtin_roles, invite

    call_command("migrate", interactive=False, verbosity=0)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # to read the invitation links
    admin = User.objects.create_user("admin@acme.test", PASSWORD, name="Acme Admin")
    acme = create_organization(admin, "Acme")
    finance = User.objects.create_user("finance@acme.test", PASSWORD, name="Acme Finance")
    roles = ensure_builtin_roles(acme)
    Membership.objects.create(user=finance, organization=acme, role=roles["finance"])
    actor = Membership.objects.get(user=admin, organization=acme)
    for number in range(invitations):
        invite(actor, f"new{number}@acme.test", roles["engineer"])
    tokens = [re.search(r"/invitations/([\w-]+)/", message.body).group(1) for message in mail.outbox]
    for number in range(organizations):
        owner = admin if number == 0 else User.objects.create_user(f"owner@org{number}.test", PASSWORD, name="Owner")
        organization = acme if number == 0 else create_organization(owner, f"Org {number}")
        _usage_last_month(Membership.objects.get(user=owner, organization=organization))
    sessions = {"admin": _signed_in(admin, acme), "finance": _signed_in(finance, acme)}
    print(json.dumps({"invitations": tokens, "sessions": sessions, "month": f"{last_month():%Y-%m}"}))


def last_month() -> date:
    return (datetime.now(UTC).date().replace(day=1) - timedelta(days=1)).replace(day=1)


def _usage_last_month(owner) -> None:
    from projects.services import create_project
    from usage.models import DailyUsage

    project = create_project(owner, name=f"{owner.organization.name} app")
    DailyUsage.objects.create(project=project, date=last_month() + timedelta(days=9), audio=600_000, video_hd=60_000)


def _signed_in(user, organization) -> str:
    """The key of a session signed in as `user` with `organization` chosen, as the sign-in page makes it."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    from accounts.middleware import SESSION_KEY as ORGANIZATION_KEY

    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session[ORGANIZATION_KEY] = organization.pk
    session.save(must_create=True)
    return session.session_key


# Requests --------------------------------------------------------------------------------------------------


def post(site: Site, path: str, data: dict, session: str = "") -> requests.Response:
    cookies = {"csrftoken": CSRF, **({"sessionid": session} if session else {})}
    return requests.post(
        site.url + path,
        data={**data, "csrfmiddlewaretoken": CSRF},
        cookies=cookies,
        allow_redirects=False,
        timeout=REQUEST_TIMEOUT,
    )


def post_json(site: Site, path: str, body: dict, session: str) -> requests.Response:
    return requests.post(
        site.url + path,
        json=body,
        cookies={"csrftoken": CSRF, "sessionid": session},
        headers={"X-CSRFToken": CSRF},
        allow_redirects=False,
        timeout=REQUEST_TIMEOUT,
    )


def together(calls: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    """Send every request at the same moment, each from its own thread and connection."""
    barrier = threading.Barrier(len(calls))

    def send(call):
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(send, calls))


def accept_invitations(site: Site, repeats: int = REPEATS) -> list[requests.Response]:
    """Every invitation accepted by a new user at once; the first `repeats` of them sent twice."""
    tokens = site.seeded["invitations"]
    form = {"name": "New Member", "password1": PASSWORD, "password2": PASSWORD}
    calls = [lambda token=token: post(site, f"/invitations/{token}/", form) for token in tokens + tokens[:repeats]]
    return together(calls)


def payment_form(number: int) -> dict:
    return {
        "form_token": secrets.token_hex(16),
        "amount": "12.50",
        "method": "bank_transfer",
        "reference": f"TR-{number:04}",
        "occurred_on": f"{datetime.now(UTC).date():%Y-%m-%d}",
    }


def record_payments(site: Site, payments: int = PAYMENTS, repeats: int = REPEATS) -> list[requests.Response]:
    """`payments` payment forms sent at once by the Finance member; the first `repeats` sent twice."""
    forms = [payment_form(number) for number in range(payments)]
    session = site.seeded["sessions"]["finance"]
    calls = [lambda form=form: post(site, "/billing/payments/new/", form, session) for form in forms + forms[:repeats]]
    return together(calls)


def close_months(site: Site, runs: int = CLOSE_RUNS) -> list[subprocess.CompletedProcess]:
    """`manage.py close_month` for last month, `runs` processes started at once."""
    command = [PYTHON, "manage.py", "close_month", "--month", site.seeded["month"]]
    started = [
        subprocess.Popen(command, cwd=ROOT, env=site.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(runs)
    ]
    finished = []
    for process in started:
        stdout, stderr = process.communicate(timeout=STEP_TIMEOUT)
        finished.append(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
    return finished


def statuses(responses: list[requests.Response]) -> Counter:
    return Counter(response.status_code for response in responses)


# What the database holds afterwards -----------------------------------------------------------------------


def joined(site: Site) -> dict[str, int]:
    """Invitations accepted, and the invited people's accounts and memberships."""
    return {
        "accepted": site.count("SELECT count(*) FROM accounts_invitation WHERE status = 'accepted'"),
        "users": site.count("SELECT count(*) FROM accounts_user WHERE email LIKE 'new%@acme.test'"),
        "memberships": site.count(
            "SELECT count(*) FROM accounts_membership m JOIN accounts_user u ON u.id = m.user_id "
            "WHERE u.email LIKE 'new%@acme.test'"
        ),
    }


def payments(site: Site) -> dict[str, int]:
    """Payments recorded, and how many distinct forms (one-time tokens) they came from."""
    return {
        "payments": site.count("SELECT count(*) FROM billing_transaction WHERE kind = 'payment'"),
        "forms": site.count("SELECT count(DISTINCT form_token) FROM billing_transaction WHERE kind = 'payment'"),
    }


def statements(site: Site) -> dict[str, int]:
    """Statements of last month, and how many organizations they belong to."""
    month = f"{site.seeded['month']}-01"
    return {
        "statements": site.count("SELECT count(*) FROM billing_statement WHERE month = ?", month),
        "organizations": site.count(
            "SELECT count(DISTINCT organization_id) FROM billing_statement WHERE month = ?", month
        ),
    }


def issued_by(runs: list[subprocess.CompletedProcess]) -> int:
    """Statements the runs say they issued (one line each)."""
    return sum(len(re.findall(r"^\S+: INV-", run.stdout, re.MULTILINE)) for run in runs)


# Tests -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    # The site has a SQLite file of its own, whatever database the test run uses: CI runs these too.
    site = prepare(tmp_path_factory.mktemp("sqlite-concurrency"))
    try:
        start_server(site)
        yield site
    finally:
        stop_server(site)


def test_concurrent_invitation_acceptances_each_join_once(site):
    responses = accept_invitations(site)

    assert statuses(responses)[500] == 0, site.server_log()
    assert all(response.status_code < 500 for response in responses), statuses(responses)
    assert statuses(responses)[302] == INVITATIONS, statuses(responses)  # one join per invitation
    assert joined(site) == {"accepted": INVITATIONS, "users": INVITATIONS, "memberships": INVITATIONS}


def test_concurrent_payments_are_recorded_once_per_form(site):
    responses = record_payments(site)

    assert statuses(responses)[500] == 0, site.server_log()
    assert statuses(responses) == {302: PAYMENTS + REPEATS}  # recorded, or "already recorded" for a repeat
    assert payments(site) == {"payments": PAYMENTS, "forms": PAYMENTS}


def test_concurrent_month_closes_issue_one_statement_per_organization(site):
    runs = close_months(site)

    failed = [run.stderr[-2000:] for run in runs if run.returncode != 0]
    assert not failed, failed
    assert issued_by(runs) == ORGANIZATIONS, [run.stdout for run in runs]  # each issued by exactly one run
    assert statements(site) == {"statements": ORGANIZATIONS, "organizations": ORGANIZATIONS}


def test_a_write_still_locked_after_the_busy_timeout_answers_503(site):
    """A second server on the same file that waits only 1 s for the lock, while the test holds it."""
    impatient = Site(site.workdir, {**site.env, "DJANGO_SETTINGS_MODULE": "impatient_settings"}, site.seeded)
    (site.workdir / "impatient_settings.py").write_text(
        f"from {SETTINGS_MODULE} import *  # noqa: F403\n"
        'DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 1  # noqa: F405\n'
    )
    form, session = payment_form(99), site.seeded["sessions"]["admin"]
    holder = sqlite3.connect(site.database, isolation_level=None)
    try:
        start_server(impatient, workers=1, threads=2)
        holder.execute("BEGIN IMMEDIATE")  # another writer that keeps the lock
        page = post(impatient, "/billing/payments/new/", form, session)
        api = post_json(impatient, "/api/v1/projects/", {"name": "Busy project"}, session)
        holder.execute("ROLLBACK")
        again = post(impatient, "/billing/payments/new/", form, session)
    finally:
        holder.close()
        stop_server(impatient)

    assert page.status_code == 503, impatient.server_log()
    assert "busy" in page.text and page.headers["Retry-After"]
    assert page.headers["Content-Type"].startswith("text/html")
    assert api.status_code == 503 and "busy" in api.json()["message"], api.text
    assert again.status_code == 302  # the same form sent again once the lock is free
    assert site.count("SELECT count(*) FROM billing_transaction WHERE form_token = ?", form["form_token"]) == 1
