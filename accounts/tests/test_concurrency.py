"""Invariants that must hold when two people act at the same moment (PostgreSQL row locks)."""

import threading

import pytest
from django.db import connection, connections

from accounts.models import Membership
from accounts.services import RuleViolation, change_member_role, remove_member
from conftest import skip_or_fail


@pytest.fixture
def postgres():
    if connection.vendor != "postgresql":
        skip_or_fail("row-lock tests need PostgreSQL (set DATABASE_URL=postgres://...)")


def run_together(*actions):
    """Start every action at once in its own thread and connection; return what each raised."""
    barrier = threading.Barrier(len(actions))
    outcomes = [None] * len(actions)

    def run(index, action):
        try:
            barrier.wait()
            action()
        except Exception as error:  # noqa: BLE001  (the outcome is what the test inspects)
            outcomes[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, action)) for i, action in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("operation", ["demote", "remove"])
def test_two_admins_cannot_leave_the_organization_without_an_admin(postgres, acme, operation):
    roles = acme.roles
    first = acme.membership("admin")
    second = acme.membership("engineer")
    change_member_role(first, second, roles["admin"])
    second.refresh_from_db()

    def act(actor, target):
        if operation == "demote":
            return lambda: change_member_role(actor, target, roles["finance"])
        return lambda: remove_member(actor, target)

    # Each Admin acts against the other at the same moment ("remove": the owner removes the second Admin
    # while the second demotes the owner, who cannot be removed). One must win, one must be refused.
    if operation == "demote":
        outcomes = run_together(act(first, second), act(second, first))
    else:
        outcomes = run_together(act(first, second), lambda: change_member_role(second, first, roles["finance"]))

    admins = Membership.objects.filter(organization=acme.organization, role__builtin_key="admin").count()
    assert admins == 1
    refused = [outcome for outcome in outcomes if outcome is not None]
    assert len(refused) == 1 and isinstance(refused[0], RuleViolation), outcomes
