"""Every audit entry names its actor from the service's `actor`, whichever door the action came through."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from accounts import audit
from accounts.models import AuditEntry
from billing import ledger
from billing.services import save_billing_details
from projects import services as project_services
from tokens.services import issue_temp_token


def latest(action: str) -> AuditEntry:
    return AuditEntry.objects.filter(action=action).latest("pk")


def test_a_service_called_without_a_request_records_its_member(acme):
    engineer = acme.membership("engineer")
    project = acme.projects[0]
    project_services.set_enabled(engineer, project, False)
    issue_temp_token(acme.membership("admin"), acme.projects[1], "rtm", {"user_id": "ann"})
    project_services.enable_secondary(engineer, acme.projects[1])

    assert latest("project.disabled").actor == acme.users["engineer"]
    assert latest("token.generated").actor == acme.users["admin"]
    entry = latest("certificate.secondary_enabled")
    assert entry.actor == acme.users["engineer"] and entry.actor_email == "engineer@acme.test"
    assert entry.ip_address is None


def test_billing_services_take_the_member_and_record_it(acme):
    finance = acme.membership("finance")
    save_billing_details(finance, {"company_name": "Acme Ltd"}, ["company_name"])
    ledger.record_payment(finance, amount=Decimal("10.00"), method="card")
    assert latest("billing.details_changed").actor == acme.users["finance"]
    assert latest("billing.payment_recorded").actor == acme.users["finance"]


def test_an_entry_written_for_nobody_without_a_request_is_the_systems(acme):
    entry = audit.record("org.updated", actor=None, organization=acme.organization)
    assert entry.actor is None and entry.actor_email == audit.SYSTEM_ACTOR


def test_a_failed_sign_in_has_no_actor_and_is_not_the_systems(client, acme):
    client.post("/accounts/login/", {"login": "admin@acme.test", "password": "wrong"})
    entry = latest("auth.login_failed")
    assert entry.actor is None and entry.actor_email == ""


@pytest.mark.django_db(transaction=True)  # the sandbox answers from another thread: data must be committed
def test_seed_demo_entries_name_the_demo_member_or_the_system(settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO())
    by_member = AuditEntry.objects.exclude(action__in=["billing.statement_issued", "billing.statement_deducted"])
    assert by_member.exists()
    assert not by_member.filter(actor=None).exists(), list(by_member.filter(actor=None).values_list("action"))
    system = AuditEntry.objects.filter(action="billing.statement_issued")
    assert system.exists() and set(system.values_list("actor_email", flat=True)) == {audit.SYSTEM_ACTOR}
