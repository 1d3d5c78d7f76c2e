"""The month close survives its worker: it is re-delivered and safe to run again.

Each organization's statement is written in one transaction, and an organization that has the month's
statement is skipped; so a close interrupted inside an organization leaves nothing of it, and the close run
again issues each statement once, numbered without a gap. For real: a `celery -A console worker` process is
killed with SIGKILL in the middle of the close; its task is delivered again (acknowledged late) to the next
worker, which issues the rest (Redis, and the embedded filesystem broker).
"""

import sqlite3
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from accounts.models import AuditEntry, Organization
from billing import closing
from billing.closing import close_month
from billing.estimate import month_to_date
from billing.models import Statement
from conftest import make_org
from console.dates import month_end, previous_month
from usage.models import DailyUsage
from usage.tests.worker_process import Workers, broker, wait_for  # noqa: F401  (broker: the fixture)

CLOSE = "billing.tasks.close_previous_month"


class WorkerKilled(BaseException):
    """Stands for SIGKILL inside this process: no `except Exception` catches it."""


def last_month():
    return previous_month(timezone.now().date())


def with_usage(*orgs):
    month = last_month()
    for number, org in enumerate(orgs, start=1):
        DailyUsage.objects.create(project=org.projects[0], date=month + timedelta(days=2), audio=number * 20_000 * 60)
    return month


def numbers(using="default") -> dict[int, list[str]]:
    issued = {}
    for organization_id, number in Statement.objects.using(using).values_list("organization", "number"):
        issued.setdefault(organization_id, []).append(number)
    return issued


@pytest.mark.django_db
def test_a_close_interrupted_inside_an_organization_leaves_nothing_of_it_and_the_rerun_issues_each_once(
    acme, globex, monkeypatch
):
    month = with_usage(acme, globex)
    real_lines = closing.statement_lines

    def killed_at_globex(statement, *args):
        if statement.organization_id == globex.organization.pk:
            raise WorkerKilled
        return real_lines(statement, *args)

    monkeypatch.setattr(closing, "statement_lines", killed_at_globex)
    with pytest.raises(WorkerKilled):
        close_month(month)
    assert list(numbers()) == [acme.organization.pk]  # globex's statement went with its transaction

    monkeypatch.setattr(closing, "statement_lines", real_lines)
    assert [s.organization_id for s in close_month(month)] == [globex.organization.pk]
    assert close_month(month) == []
    first = f"INV-{month:%Y%m}-0001"
    assert numbers() == {acme.organization.pk: [first], globex.organization.pk: [first]}
    assert AuditEntry.objects.filter(action="billing.statement_issued").count() == 2


# A real worker, killed ---------------------------------------------------------------------------


@pytest.fixture
def workers(transactional_db, tmp_path, broker):  # noqa: F811  (the imported fixture)
    made = Workers(tmp_path, broker)
    yield made
    made.stop_all()
    made.forget()


@contextmanager
def holding(database, organization):
    """Make the close wait inside `organization` while the test kills its worker. PostgreSQL: the
    organization's row lock, which the close takes first; SQLite: the whole database's write lock."""
    if database.path is None:
        with transaction.atomic(using=database.alias):
            Organization.objects.using(database.alias).select_for_update().get(pk=organization.pk)
            yield
        return
    lock = sqlite3.connect(database.path, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        lock.rollback()
        lock.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning")  # Celery's Redis backend
def test_a_close_whose_worker_is_killed_is_delivered_again_and_issues_each_statement_once(acme, globex, workers):
    initech = make_org("Initech", "initech.test")
    month = with_usage(acme, globex, initech)
    database = workers.share()
    db = database.alias
    first = workers.start()

    with holding(database, globex.organization):
        workers.broker.send(CLOSE)
        if database.path is None:  # PostgreSQL: Acme's statement is issued, then the close waits for Globex
            wait_for(lambda: numbers(db), 30, "Acme's statement", workers.log)
        else:  # SQLite: the close waits for the write lock at its first statement
            wait_for(lambda: workers.logged(CLOSE, " received"), 30, "the task", workers.log)
        workers.kill(first)
        issued_before_the_kill = numbers(db)
    assert issued_before_the_kill in ({}, {acme.organization.pk: [f"INV-{month:%Y%m}-0001"]})

    workers.start()
    wait_for(lambda: len(numbers(db)) == 3, 30, "three statements", workers.log)

    first_number = f"INV-{month:%Y%m}-0001"
    orgs = (acme, globex, initech)
    assert numbers(db) == {org.organization.pk: [first_number] for org in orgs}
    assert AuditEntry.objects.using(db).filter(action="billing.statement_issued").count() == 3
    for org in orgs:  # the statement of a clean close: the month's estimate on its last day
        statement = Statement.objects.using(db).get(organization=org.organization)
        assert statement.total == month_to_date(org.organization, today=month_end(month)).priced.total > 0
