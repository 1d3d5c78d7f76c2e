import stat
from datetime import UTC, date, datetime, time, timedelta
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import Membership, Organization, User
from billing import ledger
from billing.models import Statement, Transaction
from console.dates import month_end
from console.devkeys import new_fernet_key, read_or_create
from network.models import Call, CallSession, ChannelUser
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
    assert PullRun.objects.get(organization=acme, kind=PullRun.Kind.USAGE).status == PullRun.Status.SUCCEEDED
    # The sandbox's traffic, pulled too: who is online, and calls with Agora's ids, their users and metrics.
    network_runs = PullRun.objects.filter(organization=acme).exclude(kind=PullRun.Kind.USAGE)
    assert sorted(network_runs.values_list("kind", "status")) == [("calls", "succeeded"), ("channels", "succeeded")]
    calls = Call.objects.filter(project__organization=acme).exclude(call_id="")
    assert calls.exists() and CallSession.objects.filter(call__in=calls).exists()
    assert ChannelUser.objects.filter(project__organization=acme, online=True).exists()


@pytest.mark.django_db(transaction=True)
def test_seed_demo_is_idempotent(settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO())

    def counts():
        models = (User, Organization, Membership, Project, DailyUsage, Statement, Transaction)
        return [model.objects.count() for model in models]

    first = counts()
    call_command("seed_demo", stdout=StringIO())
    assert counts() == first


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 12, 1, 1, 0, tzinfo=UTC),  # before 02:00 on the 1st: November's statement is issued now
        datetime(2026, 12, 8, 9, 0, tzinfo=UTC),  # November's is overdue but in its grace days: left open
        datetime(2026, 12, 20, 9, 0, tzinfo=UTC),  # November's grace days are over: paid too
    ],
)
def test_seed_demo_bills_as_if_each_month_had_been_closed_and_paid_on_time(settings, monkeypatch, now):
    settings.DEBUG = True
    monkeypatch.setattr(timezone, "now", lambda: now)
    call_command("seed_demo", stdout=StringIO())
    acme = Organization.objects.get(name="Acme")
    statements = list(Statement.objects.filter(organization=acme).order_by("month"))
    assert [statement.month for statement in statements] == [date(2026, 10, 1), date(2026, 11, 1)]
    for statement in statements:
        first_after = month_end(statement.month) + timedelta(days=1)
        assert statement.issued_at == min(datetime.combine(first_after, time(2), tzinfo=UTC), now)
        assert statement.issued_at.date() <= statement.due_date
    payments = Transaction.objects.filter(organization=acme, kind=Transaction.Kind.PAYMENT)
    paid = {payment.reference.removeprefix("DEMO-"): payment for payment in payments}
    for statement in statements:
        payment = paid.get(statement.number)
        if payment is not None:
            assert statement.issued_at.date() <= payment.occurred_on <= min(now.date(), statement.due_date)
            assert payment.amount == statement.total and payment.method == Transaction.Method.BANK_TRANSFER
    latest_paid = now.date() >= statements[-1].due_date + timedelta(days=ledger.GRACE_DAYS)
    assert sorted(paid) == [statement.number for statement in statements[: 2 if latest_paid else 1]]
    acme.refresh_from_db()
    assert not acme.is_suspended and ledger.standing(acme).status != ledger.SUSPENDED


def test_development_keys_are_generated_once_and_private(tmp_path):
    path = tmp_path / "var" / "encryption_keys"
    first = read_or_create(path, new_fernet_key)
    second = read_or_create(path, new_fernet_key)
    assert first == second and len(first) == 44
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
