import stat
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from accounts.models import Membership, Organization, User
from console.devkeys import new_fernet_key, read_or_create
from projects.models import Project
from usage.models import DailyUsage, PullRun

DEMO = {
    "admin@acme.test": "Admin",
    "finance@acme.test": "Finance",
    "ops@acme.test": "Product/Operation",
    "support@acme.test": "CS/Maintenance",
    "engineer@acme.test": "Engineer",
}


def test_seed_demo_refuses_without_debug(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo")
    assert not User.objects.exists()


@pytest.mark.django_db(transaction=True)  # the sandbox answers from another thread: data must be committed
def test_seed_demo_creates_acme_with_one_user_per_role(settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO())
    acme = Organization.objects.get(name="Acme")
    assert acme.owner.email == "admin@acme.test"
    roles = dict(Membership.objects.filter(organization=acme).values_list("user__email", "role__name"))
    assert roles == DEMO
    for email in DEMO:
        assert authenticate(username=email, password="console-demo") is not None
    assert Project.objects.filter(organization=acme).count() == 3
    # 90 days of usage per enabled project, pulled over HTTP from the sandbox.
    assert DailyUsage.objects.filter(project__organization=acme).count() == 3 * 90
    assert PullRun.objects.get(organization=acme).status == PullRun.Status.SUCCEEDED


@pytest.mark.django_db(transaction=True)
def test_seed_demo_is_idempotent(settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO())

    def counts():
        models = (User, Organization, Membership, Project, DailyUsage)
        return [model.objects.count() for model in models]

    first = counts()
    call_command("seed_demo", stdout=StringIO())
    assert counts() == first


def test_development_keys_are_generated_once_and_private(tmp_path):
    path = tmp_path / "var" / "encryption_keys"
    first = read_or_create(path, new_fernet_key)
    second = read_or_create(path, new_fernet_key)
    assert first == second and len(first) == 44
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
