from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from billing.models import PriceBook
from billing.pricing import LIST_PRICES, price_month

D = Decimal


def book(organization, effective_from: date, **prices) -> PriceBook:
    values = {
        "audio_price": D("0.50"),
        "video_hd_price": D("2.00"),
        "video_full_hd_price": D("5.00"),
        "video_2k_price": D("10.00"),
        "video_2k_plus_price": D("20.00"),
    }
    values.update(prices)
    return PriceBook.objects.create(organization=organization, effective_from=effective_from, **values)


def test_default_book_exists_with_list_prices(db):
    default = PriceBook.objects.get(organization=None)
    assert default.effective_from == date(2000, 1, 1)
    assert default.currency == "USD"
    assert default.prices() == LIST_PRICES
    assert PriceBook.book_for(None, date(2026, 1, 1)) == default


def test_organization_without_a_book_gets_the_default(acme):
    assert PriceBook.book_for(acme.organization, date(2026, 3, 1)).organization is None


def test_own_book_overrides_the_default_from_its_effective_date(acme, globex):
    own = book(acme.organization, date(2026, 3, 1))
    assert PriceBook.book_for(acme.organization, date(2026, 2, 1)).organization is None
    assert PriceBook.book_for(acme.organization, date(2026, 3, 1)) == own
    assert PriceBook.book_for(acme.organization, date(2026, 4, 1)) == own
    assert PriceBook.book_for(globex.organization, date(2026, 4, 1)).organization is None


def test_latest_book_in_force_wins(acme):
    first = book(acme.organization, date(2026, 1, 1))
    second = book(acme.organization, date(2026, 6, 1), audio_price=D("0.40"))
    book(acme.organization, date(2027, 1, 1), audio_price=D("0.30"))  # not yet in force in 2026
    assert PriceBook.book_for(acme.organization, date(2026, 5, 1)) == first
    assert PriceBook.book_for(acme.organization, date(2026, 6, 1)) == second
    assert PriceBook.book_for(acme.organization, date(2026, 12, 1)) == second
    # A newer default book applies to organizations without a book of their own.
    newer_default = book(None, date(2026, 1, 1))
    assert PriceBook.book_for(None, date(2026, 2, 1)) == newer_default
    assert PriceBook.book_for(None, date(2025, 12, 1)).effective_from == date(2000, 1, 1)


def test_no_book_in_force(db):
    with pytest.raises(PriceBook.DoesNotExist):
        PriceBook.book_for(None, date(1999, 12, 1))


def test_prices_round_trip(acme):
    saved = PriceBook.objects.create(
        organization=acme.organization,
        effective_from=date(2026, 1, 1),
        audio_price=D("0.8912"),
        video_hd_price=D("3.5"),
        video_full_hd_price=D("8"),
        video_2k_price=D("15.0001"),
        video_2k_plus_price=D("0"),
        free_minutes=5_000,
        discount_bands=[[50_000, 2.5], [200_000, 6]],
    )
    prices = PriceBook.objects.get(pk=saved.pk).prices()
    assert (prices.audio, prices.video_hd, prices.video_full_hd, prices.video_2k, prices.video_2k_plus) == (
        D("0.8912"),
        D("3.5"),
        D("8"),
        D("15.0001"),
        D("0"),
    )
    assert prices.free_minutes == 5_000
    assert prices.discount_bands == ((50_000, D("2.5")), (200_000, D("6")))
    assert prices.currency == "USD"
    # 6,000 audio minutes, 1,000 billable at 0.8912 / 1000 = 0.8912 -> 0.89.
    assert price_month({"audio": 6_000}, prices).total == D("0.89")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"audio_price": D("-0.01")}, "audio_price"),
        ({"discount_bands": [[500_000, 5], [100_000, 7]]}, "discount_bands"),
        ({"discount_bands": [[100_000, 7], [500_000, 5]]}, "discount_bands"),
        ({"discount_bands": [[100_000, 101]]}, "discount_bands"),
        ({"discount_bands": [[100_000]]}, "discount_bands"),
        ({"discount_bands": {"100000": 5}}, "discount_bands"),
        ({"discount_bands": [[100_000, "five"]]}, "discount_bands"),
    ],
)
def test_validation(acme, changes, field):
    candidate = PriceBook(
        organization=acme.organization,
        effective_from=date(2026, 1, 1),
        audio_price=D("0.99"),
        video_hd_price=D("3.99"),
        video_full_hd_price=D("8.99"),
        video_2k_price=D("15.99"),
        video_2k_plus_price=D("35.99"),
    )
    for name, value in changes.items():
        setattr(candidate, name, value)
    with pytest.raises(ValidationError) as raised:
        candidate.full_clean()
    assert field in raised.value.message_dict


def test_database_refuses_negative_prices_and_duplicate_dates(acme):
    book(acme.organization, date(2026, 1, 1))
    with pytest.raises(IntegrityError), transaction.atomic():
        book(acme.organization, date(2026, 1, 1))
    with pytest.raises(IntegrityError), transaction.atomic():
        book(None, date(2000, 1, 1))
    with pytest.raises(IntegrityError), transaction.atomic():
        book(acme.organization, date(2026, 2, 1), video_2k_price=D("-1"))
