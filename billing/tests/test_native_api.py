"""The native API for billing: /api/v1/statements/ (filters, statuses, lines) and /api/v1/transactions/."""

from datetime import date
from decimal import Decimal

import pytest

from billing import ledger
from billing.closing import close_month
from billing.models import BillingProfile
from conftest import member
from console.tests.api_helpers import Api, message
from usage.models import DailyUsage

STATEMENTS = "/api/v1/statements/"
TRANSACTIONS = "/api/v1/transactions/"


def close(org, month: date, minutes_2k: int):
    DailyUsage.objects.create(project=org.projects[0], date=month.replace(day=10), video_2k=minutes_2k * 60)
    next_month = date(month.year + month.month // 12, month.month % 12 + 1, 5)
    [statement] = close_month(month, org.organization, today=next_month)
    return statement


@pytest.fixture
def api(acme, client):
    return Api(client, acme.membership("finance"))


@pytest.fixture
def statements(acme, globex):
    """January (USD 15.99, paid), February (USD 31.98, 4.01 paid) and March (USD 15.99, nothing paid): the 20.00
    paid before they were issued pays them at issue, oldest first. February and March are past due."""
    january = close(acme, date(2026, 1, 1), 11_000)
    february = close(acme, date(2026, 2, 1), 12_000)
    march = close(acme, date(2026, 3, 1), 11_000)
    close(globex, date(2026, 1, 1), 20_000)
    finance = acme.users["finance"]
    ledger.record_payment(
        member(finance, acme.organization), amount=Decimal("20.00"), method="card", occurred_on=date(2026, 2, 1)
    )
    ledger._deduct_for(acme.organization, date(2026, 3, 7))  # January's and February's due dates have passed
    return january, february, march


def test_statements_newest_first_with_their_status(api, statements):
    response = api.get(STATEMENTS)
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(r["period_start"], r["status"], r["amount_paid"], r["amount_due"]) for r in rows] == [
        ("2026-03-01", "overdue", "0.00", "15.99"),
        ("2026-02-01", "overdue", "4.01", "27.97"),
        ("2026-01-01", "paid", "15.99", "0.00"),
    ]
    assert [r["paid_at"] for r in rows] == [None, None, f"{statements[0].issued_at:%Y-%m-%d}"]
    january = rows[-1]
    assert january["number"] == statements[0].number and january["total"] == "15.99"
    assert january["period_end"] == "2026-01-31" and january["currency"] == "USD"
    assert "lines" not in january


def test_statements_filtered_by_month_range_and_status(api, statements):
    def months(**params) -> list[str]:
        response = api.get(STATEMENTS, params)
        assert response.status_code == 200, response.content
        return [row["period_start"] for row in response.json()["results"]]

    assert months(month_from="2026-02", month_to="2026-02") == ["2026-02-01"]
    assert months(month_from="2026-02-15") == ["2026-03-01", "2026-02-01"]  # a day names its month
    assert months(month_to="2026-01") == ["2026-01-01"]
    assert months(status="overdue") == ["2026-03-01", "2026-02-01"]
    assert months(status="paid") == ["2026-01-01"]
    assert months(status="open") == []
    response = api.get(STATEMENTS, {"status": "lost"})
    assert response.status_code == 400 and "status" in message(response)


def test_a_statement_with_its_lines(acme, api, statements):
    BillingProfile.objects.create(organization=acme.organization, company_name="Acme Trading")
    january = statements[0]
    response = api.get(f"{STATEMENTS}{january.number}/")
    assert response.status_code == 200
    body = response.json()
    assert body["number"] == january.number and body["status"] == "paid"
    assert body["bill_to"] == ["Acme"]  # as issued, before the billing details existed
    assert body["usage_seconds"]["video_2k"] == 11_000 * 60
    lines = body["lines"]
    assert [line["position"] for line in lines] == sorted(line["position"] for line in lines)
    two_k = next(line for line in lines if line["tier"] == "video_2k")
    assert two_k["minutes"] == 11_000 and two_k["billable_minutes"] == 1_000 and two_k["amount"] == "15.99"
    assert sum(Decimal(line["amount"]) for line in lines) == Decimal(body["total"])


def test_another_organizations_statement_is_not_found(acme, globex, api, statements):
    theirs = close(globex, date(2026, 5, 1), 20_000)  # Acme has no statement for May
    response = api.get(f"{STATEMENTS}{theirs.number}/")
    assert response.status_code == 404 and message(response)
    # Numbers run per organization: Globex's January number is also Acme's, and names Acme's statement here.
    body = api.get(f"{STATEMENTS}{statements[0].number}/").json()
    assert body["total"] == "15.99"


def test_transactions_of_the_ledger(acme, api, statements):
    response = api.get(TRANSACTIONS)
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(r["occurred_on"], r["kind"], r["amount"]) for r in rows] == [
        ("2026-03-06", "deduction", f"-{statements[1].total}"),
        ("2026-02-06", "deduction", "-15.99"),
        ("2026-02-01", "payment", "20.00"),
    ]
    assert rows[1]["statement"] == statements[0].number
    assert rows[2]["recorded_by"] == "finance@acme.test" and rows[2]["method"] == "card"
    kinds = [r["kind"] for r in api.get(TRANSACTIONS, {"kind": "payment"}).json()["results"]]
    assert kinds == ["payment"]
    dates = [r["occurred_on"] for r in api.get(TRANSACTIONS, {"date_from": "2026-02-02"}).json()["results"]]
    assert dates == ["2026-03-06", "2026-02-06"]
