import stat
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from accounts.models import Membership, Organization, User
from console.devkeys import new_fernet_key, read_or_create
from projects.models import Project

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


def test_seed_demo_creates_acme_with_one_user_per_role(db, settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO())
    acme = Organization.objects.get(name="Acme")
    assert acme.owner.email == "admin@acme.test"
    roles = dict(Membership.objects.filter(organization=acme).values_list("user__email", "role__name"))
    assert roles == DEMO
    for email in DEMO:
        assert authenticate(username=email, password="console-demo") is not None
    assert Project.objects.filter(organization=acme).count() >= 3


def test_seed_demo_is_idempotent(db, settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO())
    counts = (User.objects.count(), Organization.objects.count(), Membership.objects.count(), Project.objects.count())
    call_command("seed_demo", stdout=StringIO())
    assert counts == (
        User.objects.count(),
        Organization.objects.count(),
        Membership.objects.count(),
        Project.objects.count(),
    )


def test_development_keys_are_generated_once_and_private(tmp_path):
    path = tmp_path / "var" / "encryption_keys"
    first = read_or_create(path, new_fernet_key)
    second = read_or_create(path, new_fernet_key)
    assert first == second and len(first) == 44
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
