"""Invariants that must hold when two people act at the same moment (PostgreSQL row locks)."""

import pytest

from accounts.models import Membership
from accounts.services import change_member_role, remove_member
from conftest import run_together
from console.refusals import RuleViolation


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
