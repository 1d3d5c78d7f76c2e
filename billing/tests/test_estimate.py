from datetime import date
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone

from billing.estimate import billed_minutes, month_to_date
from billing.models import PriceBook
from billing.pricing import price_month
from usage.models import DailyUsage


def add_usage(project, day, **seconds):
    DailyUsage.objects.create(project=project, date=day, **seconds)


def test_the_estimate_prices_the_month_so_far_for_every_project(acme):
    first, second = acme.projects
    add_usage(first, date(2026, 11, 3), audio=6_000 * 60, video_hd=4_000 * 60)
    add_usage(second, date(2026, 11, 20), video_hd=5_000 * 60, video_hd_plus=30)
    add_usage(first, date(2026, 10, 31), audio=999_999)  # last month: not in November's estimate
    add_usage(first, date(2026, 11, 25), audio=999_999)  # after "today": not yet counted
    estimate = month_to_date(acme.organization, today=date(2026, 11, 24))
    # Audio 6,000 free; HD 9,000 min + 30 s of HD+ -> 9,001 min, 4,000 free, 5,001 billable x 3.99 / 1000 = 19.95399.
    assert (estimate.day_from, estimate.day_to) == (date(2026, 11, 1), date(2026, 11, 24))
    lines = {line.tier: line for line in estimate.priced.lines}
    assert lines["audio"].billable_minutes == 0
    assert (lines["video_hd"].minutes, lines["video_hd"].billable_minutes) == (9_001, 5_001)
    assert lines["video_hd"].amount == Decimal("19.95")
    assert estimate.priced.total == Decimal("19.95")


def test_the_estimate_equals_pricing_the_same_minutes(acme):
    add_usage(acme.projects[0], date(2026, 11, 2), audio=123_456, video_full_hd=98_765, video_2k_plus=4_321)
    add_usage(acme.projects[1], date(2026, 11, 2), audio=1)
    minutes = billed_minutes(acme.organization, date(2026, 11, 1), date(2026, 11, 30))
    # Each project's day rounded up on its own: ceil(123,456 / 60) + ceil(1 / 60).
    assert minutes == {"audio": 2_058 + 1, "video_hd": 0, "video_full_hd": 1_647, "video_2k": 0, "video_2k_plus": 73}
    book = PriceBook.book_for(acme.organization, date(2026, 11, 1))
    assert month_to_date(acme.organization, today=date(2026, 11, 30)).priced == price_month(minutes, book.prices())


def test_another_organizations_usage_is_not_billed_here(acme, globex):
    add_usage(globex.projects[0], date(2026, 11, 2), audio=50_000 * 60)
    assert month_to_date(acme.organization, today=date(2026, 11, 30)).priced.total == Decimal("0.00")


def test_the_billing_page_shows_the_estimate_to_finance(acme, client_for):
    add_usage(acme.projects[0], timezone.now().date().replace(day=1), video_2k=1_000 * 60, audio=10_000 * 60)
    page = client_for(acme.users["finance"]).get(reverse("billing:estimate"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Bill estimate" in html and "USD 15.99" in html


def test_engineers_cannot_open_billing(acme, client_for):
    assert client_for(acme.users["engineer"]).get("/billing/").status_code == 403


def test_without_a_price_book_the_page_says_so(acme, client_for):
    PriceBook.objects.all().delete()
    page = client_for(acme.users["finance"]).get(reverse("billing:estimate"))
    assert page.status_code == 200 and "No price book in force" in page.content.decode()
