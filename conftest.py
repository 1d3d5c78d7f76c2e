"""Fixtures shared by every app's tests: a demo-like organization with one member per built-in role,
an outsider in another organization, and the rule for tests that need a real service."""
import os
from dataclasses import dataclass

import pytest

from accounts.models import Membership, Organization, User
from accounts.services import create_organization, ensure_builtin_roles
from projects import services as project_services
from projects.models import Project

PASSWORD = "correct-horse-battery"
REQUIRE_SERVICES = os.environ.get("CONSOLE_REQUIRE_SERVICES") == "1"


def skip_or_fail(reason: str) -> None:
    """A missing service skips the test on a laptop and fails it in CI (CONSOLE_REQUIRE_SERVICES=1)."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (CONSOLE_REQUIRE_SERVICES=1 makes this a failure)")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _fast_and_isolated_settings(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.USAGE_SANDBOX = True
    settings.STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


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
