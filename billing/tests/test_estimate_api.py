"""`GET /api/v1/billing/estimate/`: the month-to-date estimate as the Bill estimate page computes it."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from billing.estimate import month_to_date
from billing.models import PriceBook
from console.tests.api_helpers import Api, message
from usage.models import DailyUsage

URL = "/api/v1/billing/estimate/"


def add_usage(project, day, **seconds):
    DailyUsage.objects.create(project=project, date=day, **seconds)


def test_the_estimate_has_minutes_per_tier_free_minutes_lines_discount_and_total(acme, globex, client):
    today = timezone.now().date()
    # 120,000 minutes of audio: 10,000 free, 110,000 x 0.99 / 1000 = 108.90, 5% on positions from 100,000.
    add_usage(acme.projects[0], today, audio=60_000 * 60, video_hd_plus=30)
    add_usage(acme.projects[1], today, audio=60_000 * 60, video_hd=30)
    add_usage(acme.projects[0], today.replace(day=1) - timedelta(days=1), audio=999_999)  # last month
    add_usage(globex.projects[0], today, audio=999_999)  # another organization's
    response = Api(client, acme.membership("finance")).get(URL)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["date_from"] == today.replace(day=1).isoformat() and body["date_to"] == today.isoformat()
    assert body["minutes"] == {"audio": 120_000, "video_hd": 2, "video_full_hd": 0, "video_2k": 0, "video_2k_plus": 0}
    assert body["total_minutes"] == 120_002
    assert (body["free_minutes"], body["free_minutes_used"]) == (10_000, 10_000)
    assert [line["tier"] for line in body["lines"]] == list(body["minutes"])
    assert body["lines"][0]["billable_minutes"] == 110_000 and body["lines"][0]["amount"] == "108.90"
    assert body["discount"] == "0.99" and body["rounding"] == "0.00"
    lines = sum(Decimal(line["amount"]) for line in body["lines"])
    assert lines - Decimal(body["discount"]) + Decimal(body["rounding"]) == Decimal(body["total"])
    assert Decimal(body["total"]) == month_to_date(acme.organization).priced.total
    assert body["currency"] == "USD" and body["own_price_book"] is False


def test_members_without_billing_view_are_refused(acme, client):
    response = Api(client, acme.membership("engineer")).get(URL)
    assert response.status_code == 403 and message(response)


def test_without_a_price_book_the_answer_says_so(acme, client):
    PriceBook.objects.all().delete()
    response = Api(client, acme.membership("finance")).get(URL)
    assert response.status_code == 409 and "No price book" in message(response)


def test_the_schema_documents_it(acme, client_for):
    schema = client_for(acme.users["admin"]).get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"][URL]["get"]
    assert operation["tags"] == ["Billing"] and "409" in operation["responses"]
    properties = schema["components"]["schemas"]["Estimate"]["properties"]
    assert {"minutes", "free_minutes", "lines", "discount", "rounding", "total"} <= set(properties)
