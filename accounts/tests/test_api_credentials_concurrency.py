"""The limit of 10 API credentials holds when members add pairs at the same moment (PostgreSQL row locks)."""

import pytest

from accounts.api_credentials import MAX_ACTIVE, create_credential
from accounts.models import ApiCredential
from conftest import run_together
from console.refusals import RuleViolation


@pytest.mark.django_db(transaction=True)
def test_simultaneous_additions_never_pass_the_limit(postgres, acme):
    for _ in range(MAX_ACTIVE - 2):
        create_credential(acme.membership("admin"), "existing")
    adders = [acme.membership("admin"), acme.membership("engineer")] * 2
    outcomes = run_together(*[lambda member=member: create_credential(member, "race") for member in adders])
    assert all(outcome is None or isinstance(outcome, RuleViolation) for outcome in outcomes), outcomes
    assert sum(outcome is None for outcome in outcomes) == 2
    assert ApiCredential.objects.filter(organization=acme.organization).count() == MAX_ACTIVE
