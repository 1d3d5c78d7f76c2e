"""Fixtures shared by every app's tests: a demo-like organization with one member per built-in role,
an outsider in another organization, and the rule for tests that need a real service."""

import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import connection, connections

from accounts.api_credentials import forget_recent_writes
from accounts.models import Membership, Organization, User
from accounts.services import create_organization, ensure_builtin_roles
from console import settings as settings_module
from projects import services as project_services
from projects.models import Project

PASSWORD = "correct-horse-battery"
REQUIRE_SERVICES = os.environ.get("CONSOLE_REQUIRE_SERVICES") == "1"
# The Redis database tests that start real Celery workers use: this test process's own (console.settings).
TEST_REDIS_URL = settings_module.redis_url_for_test_worker("redis://127.0.0.1:6379/15")


def skip_or_fail(reason: str) -> None:
    """A missing service skips the test on a laptop and fails it in CI (CONSOLE_REQUIRE_SERVICES=1)."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (CONSOLE_REQUIRE_SERVICES=1 makes this a failure)")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _fast_and_isolated_settings(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.USAGE_SANDBOX = True
    settings.PUBLIC_SIGNUP = True  # development's default; accounts/tests/test_public_signup.py turns it off
    settings.API_RATE_LIMIT_PER_SECOND = 0  # tests of the limit turn it on
    settings.API_AUTH_FAILURE_LIMIT = 0  # tests of the lockout turn it on
    forget_recent_writes(pending_too=True)  # API credential use counts kept in this process
    cache.clear()  # allauth's rate limits (sign-ins per minute from one address) count in the cache
    settings.STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _default_price_book(request):
    """Transactional tests empty every table when they end, the default price book (written by a data
    migration) included, and `make test` runs test files side by side, so a file of ordinary tests may come
    after one that emptied it: every test that uses the database starts with the book in place."""
    marker = request.node.get_closest_marker("django_db")
    if marker is not None and marker.kwargs.get("transaction"):
        request.getfixturevalue("transactional_db")
    elif marker is not None or "db" in request.fixturenames:
        request.getfixturevalue("db")
    elif "transactional_db" in request.fixturenames:
        request.getfixturevalue("transactional_db")
    else:
        return
    import_module("billing.migrations.0001_initial").create_default_price_book(django_apps, None)


def member(user: User, organization: Organization) -> Membership:
    """The membership of `user` in `organization`: the actor a service takes."""
    return Membership.objects.select_related("user", "organization", "role").get(user=user, organization=organization)


@dataclass
class Org:
    organization: Organization
    users: dict[str, User]  # built-in role key -> user
    projects: list[Project]

    def membership(self, key: str) -> Membership:
        return Membership.objects.get(organization=self.organization, user=self.users[key])

    @property
    def roles(self):
        return {role.builtin_key: role for role in self.organization.roles.exclude(builtin_key="")}


def make_org(name: str, domain: str) -> Org:
    owner = User.objects.create_user(f"admin@{domain}", PASSWORD, name=f"{name} Admin")
    organization = create_organization(owner, name)
    roles = ensure_builtin_roles(organization)
    users = {"admin": owner}
    for key in ("finance", "product_operation", "cs_maintenance", "engineer"):
        users[key] = User.objects.create_user(f"{key}@{domain}", PASSWORD, name=key.replace("_", " ").title())
        Membership.objects.create(user=users[key], organization=organization, role=roles[key])
    admin = Membership.objects.get(organization=organization, user=owner)
    projects = [project_services.create_project(admin, name=f"{name} project {n}") for n in (1, 2)]
    return Org(organization, users, projects)


@pytest.fixture
def acme(db) -> Org:
    return make_org("Acme", "acme.test")


@pytest.fixture
def globex(db) -> Org:
    """Another organization: its members are outsiders to Acme."""
    return make_org("Globex", "globex.test")


@pytest.fixture
def client_for(client):
    """Sign a user in on the test client: `client_for(user)`."""

    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


def reauthenticated(client, user, moment=None) -> None:
    """Record in a test client's session that its user re-entered the password at `moment` (default now),
    where allauth keeps re-authentications and accounts.sudo reads them: the session is in sudo mode."""
    from django.utils import timezone

    session = client.session
    session["account_authentication_methods_user"] = str(user.pk)
    session["account_authentication_methods"] = [
        {"method": "password", "at": (moment or timezone.now()).timestamp(), "reauthenticated": True}
    ]
    session.save()


# Concurrency ------------------------------------------------------------------------------------


@pytest.fixture
def postgres():
    """Row-lock tests mean something only on PostgreSQL (SQLite serializes every writer)."""
    if connection.vendor != "postgresql":
        skip_or_fail("row-lock tests need PostgreSQL (set DATABASE_URL=postgres://...)")


def run_together(*actions, timeout: float = 60) -> list:
    """Start every action at once, each in its own thread and database connection.

    Returns what each raised, or None for an action that finished without error.
    """
    barrier = threading.Barrier(len(actions))
    outcomes: list = ["did not finish"] * len(actions)

    def run(index, action):
        try:
            barrier.wait(timeout=10)
            action()
            outcomes[index] = None
        except Exception as error:  # noqa: BLE001  (the outcome is what the test inspects)
            outcomes[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, action)) for i, action in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads), "a thread hung (deadlock?)"
    return outcomes


# Browser tests ----------------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = Path(django_settings.BASE_DIR) / "var" / "screenshots"
BROWSER_TIMEOUT_MS = 10_000  # fail fast instead of Playwright's 30 s default
# Blocked on purpose: ReDoc (the API docs page) shows Redocly's logo from their CDN and hides it when it
# cannot load. Any other Content-Security-Policy violation fails the test.
EXPECTED_CSP_VIOLATIONS = ("https://cdn.redoc.ly/",)


def label(text: str) -> re.Pattern:
    """A form label, with or without Django's label suffix (a colon), for Playwright's get_by_label."""
    return re.compile(rf"^{re.escape(text)}:?$")


def sign_in(page, base_url: str, email: str, password: str = PASSWORD, shoot=None) -> None:
    """Sign in through the real form and land on the overview (a browser test's first step)."""
    from playwright.sync_api import expect

    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label(label("Email")).fill(email)
    page.get_by_label(label("Password")).fill(password)
    if shoot:
        shoot(page, "01-login")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(f"{base_url}/overview/")


@pytest.fixture(scope="module")
def chromium() -> Iterator:
    """One headless Debian chromium per test module; contexts are per test. Module scope keeps the
    DJANGO_ALLOW_ASYNC_UNSAFE switch below from leaking into other modules' subprocesses."""
    if not CHROMIUM.exists():
        skip_or_fail(f"chromium is not installed at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop; the live server and ORM calls from the test are still sync.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def new_page(chromium):
    """`new_page()` opens a page in a fresh browser context (its own cookies, so its own session).

    Chromium reports every Content-Security-Policy violation on the console; the test fails if any page
    of its contexts had one.
    """
    contexts, violations = [], []

    def note_violation(message) -> None:
        expected = any(source in message.text for source in EXPECTED_CSP_VIOLATIONS)
        if "Content Security Policy" in message.text and not expected:
            violations.append(f"{message.page.url if message.page else '?'}: {message.text}")

    def open_page():
        context = chromium.new_context(viewport={"width": 1280, "height": 800})
        context.set_default_timeout(BROWSER_TIMEOUT_MS)
        context.on("console", note_violation)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()
    assert not violations, "Content-Security-Policy violations:\n" + "\n".join(violations)


@pytest.fixture
def shoot():
    """`shoot(page, "01-login")` saves var/screenshots/01-login.png (the whole page, once loaded)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(page, name: str) -> None:
        page.wait_for_load_state()
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return save


# Single sign-on: a real OpenID Connect provider --------------------------------------------------


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory) -> Iterator:
    """A django-oauth-toolkit identity provider in a process of its own (accounts/tests/idp), one per test
    session: `.issuer`, `.add_user(email, password, name=..., email_verified=...)`, `.add_client(redirect_uri)`
    -> (client_id, client_secret), `.sign_in_session(email, password)`, `.authorization_redirect(session, url)`,
    `.server_log()`. Its login page has "Username", "Password" and a "Log in" button."""
    from importlib.util import find_spec

    if find_spec("oauth2_provider") is None:
        skip_or_fail("django-oauth-toolkit is not installed (requirements-dev.txt)")
    from accounts.tests.idp.launch import start_identity_provider

    provider = start_identity_provider(tmp_path_factory.mktemp("oidc-provider"))
    yield provider
    provider.stop()
