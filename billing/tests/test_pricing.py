"""billing.pricing.price_month: worked examples computed by hand, then properties (hypothesis).

Input: billable minutes per tier (usage.minutes turns seconds into minutes; tested in usage/tests).

List prices, USD per 1,000 minutes: Audio 0.99, HD 3.99, Full HD 8.99, 2K 15.99, 2K+ 35.99.
10,000 free minutes (audio -> HD -> Full HD -> 2K -> 2K+); graduated bands from position 100,000 at 5%,
500,000 at 7%, 1,000,000 at 10%.
"""

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.pricing import LIST_PRICES, TIERS, Prices, price_month

D = Decimal
TIER_KEYS = [tier.key for tier in TIERS]


def amounts(priced) -> dict[str, Decimal]:
    return {line.tier: line.amount for line in priced.lines}


def line(priced, tier: str):
    return next(line for line in priced.lines if line.tier == tier)


# (a) Under the free minutes -------------------------------------------------------------------------


def test_month_under_the_free_minutes_costs_nothing():
    # audio 4,000 + HD 3,000 + Full HD 2,000 + 2K 500 + 2K+ 499 = 9,999 minutes <= 10,000 free: all free.
    priced = price_month(
        {
            "audio": 4_000,
            "video_hd": 3_000,
            "video_full_hd": 2_000,
            "video_2k": 500,
            "video_2k_plus": 499,
        },
        LIST_PRICES,
    )
    assert priced.total_minutes == 9_999
    assert [line.free_minutes for line in priced.lines] == [4_000, 3_000, 2_000, 500, 499]
    assert [line.billable_minutes for line in priced.lines] == [0, 0, 0, 0, 0]
    assert priced.subtotal == D("0.00")
    assert (priced.discount, priced.rounding) == (D("0.00"), D("0.00"))
    assert priced.total == D("0.00")
    assert str(priced.total) == "0.00"
    assert priced.currency == "USD"


# (b) All five tiers, the free minutes run out inside HD ---------------------------------------------


def test_five_tiers_free_minutes_run_out_inside_hd():
    # Free 10,000: audio takes 6,000, HD takes the remaining 4,000 of its 9,000.
    #   Audio    6,000 min, free 6,000, billable     0 ->                            0.00
    #   HD       9,000 min, free 4,000, billable 5,000 -> 5,000 x  3.99 / 1000 =  19.95
    #   Full HD  2,000 min, free     0, billable 2,000 -> 2,000 x  8.99 / 1000 =  17.98
    #   2K       1,000 min, free     0, billable 1,000 -> 1,000 x 15.99 / 1000 =  15.99
    #   2K+        500 min, free     0, billable   500 ->   500 x 35.99 / 1000 =  17.995 -> 18.00 (half up)
    # Subtotal 0.00 + 19.95 + 17.98 + 15.99 + 18.00 = 71.92.
    # Month: 18,500 minutes < 100,000, no band. Exact total 71.915 -> 71.92; discount line 0.00.
    priced = price_month(
        {
            "audio": 6_000,
            "video_hd": 9_000,
            "video_full_hd": 2_000,
            "video_2k": 1_000,
            "video_2k_plus": 500,
        },
        LIST_PRICES,
    )
    assert priced.total_minutes == 18_500
    assert [line.free_minutes for line in priced.lines] == [6_000, 4_000, 0, 0, 0]
    assert [line.billable_minutes for line in priced.lines] == [0, 5_000, 2_000, 1_000, 500]
    assert [line.unit_price for line in priced.lines] == [D("0.99"), D("3.99"), D("8.99"), D("15.99"), D("35.99")]
    assert amounts(priced) == {
        "audio": D("0.00"),
        "video_hd": D("19.95"),
        "video_full_hd": D("17.98"),
        "video_2k": D("15.99"),
        "video_2k_plus": D("18.00"),
    }
    assert priced.subtotal == D("71.92")
    # The exact 71.915 rounds to 71.92 whether the lines or the sum are rounded: no rounding line.
    assert (priced.discount, priced.rounding) == (D("0.00"), D("0.00"))
    assert priced.total == D("71.92")


# (c) Crossing the 5% band ---------------------------------------------------------------------------


def test_audio_only_month_crossing_the_five_percent_band():
    # Audio 120,000 minutes: free 10,000 (positions 1..10,000), billable 110,000 (positions 10,001..120,000).
    # Line: 110,000 x 0.99 / 1000 = 108.90.
    # 5% band = positions 100,000..499,999; here 100,000..120,000 = 20,001 minutes.
    # Discount: 20,001 x 0.99 / 1000 x 5% = 20,001 x 0.0000495 = 0.99 + 0.0000495 = 0.9900495.
    # Exact total 108.90 - 0.9900495 = 107.9099505 -> 107.91; discount 0.99; 108.90 - 0.99 = 107.91: no rounding.
    priced = price_month({"audio": 120_000}, LIST_PRICES)
    assert line(priced, "audio").billable_minutes == 110_000
    assert line(priced, "audio").amount == D("108.90")
    assert priced.exact_total == D("107.9099505")
    assert priced.subtotal == D("108.90")
    assert (priced.discount, priced.rounding) == (D("0.99"), D("0.00"))
    assert priced.total == D("107.91")


def test_band_takes_the_cheapest_minutes_first():
    # Audio 90,000 + HD 20,000 = 110,000 minutes. Free 10,000 all from audio (positions 1..10,000).
    # Billable by descending price: HD 20,000 (positions 10,001..30,000), then audio 80,000 (30,001..110,000).
    # Lines: audio 80,000 x 0.99 / 1000 = 79.20; HD 20,000 x 3.99 / 1000 = 79.80; subtotal 159.00.
    # 5% band positions 100,000..110,000 = 10,001 audio minutes: 10,001 x 0.0000495 = 0.4950495.
    # Exact total 159.00 - 0.4950495 = 158.5049505 -> 158.50; discount 0.4950495 -> 0.50; no rounding.
    priced = price_month({"audio": 90_000, "video_hd": 20_000}, LIST_PRICES)
    assert amounts(priced)["audio"] == D("79.20")
    assert amounts(priced)["video_hd"] == D("79.80")
    assert priced.exact_total == D("158.5049505")
    assert (priced.discount, priced.rounding) == (D("0.50"), D("0.00"))
    assert priced.total == D("158.50")


def test_reaching_the_band_does_not_make_the_month_cheaper():
    # 99,999 audio minutes: billable 89,999 x 0.99 / 1000 = 89.09901 -> 89.10; no band (position 99,999).
    # 100,000: billable 90,000 -> 89.10; minute 100,000 is in the 5% band: 0.0000495 off
    #   -> exact 89.0999505 -> 89.10. Same bill, not a 5% cheaper one (a flat discount would give 84.65).
    below = price_month({"audio": 99_999}, LIST_PRICES)
    at = price_month({"audio": 100_000}, LIST_PRICES)
    assert below.total == D("89.10")
    assert at.exact_total == D("89.0999505")
    assert at.total == D("89.10")


def test_every_band_and_beyond_the_last_one():
    # 2K+ only, free minutes 0 to keep it simple: 1,200,000 minutes at 35.99 -> line 43,188.00.
    # Positions 100,000..499,999 = 400,000 at 5%: 400,000 x 35.99 / 1000 x 5%  =   719.80
    # Positions 500,000..999,999 = 500,000 at 7%: 500,000 x 35.99 / 1000 x 7%  = 1,259.65
    # Positions 1,000,000..1,200,000 = 200,001 at 10%: 200,001 x 0.003599 = 719.803599
    # Discount 2,699.253599; exact total 43,188.00 - 2,699.253599 = 40,488.746401 -> 40,488.75.
    prices = replace(LIST_PRICES, free_minutes=0)
    priced = price_month({"video_2k_plus": 1_200_000}, prices)
    assert priced.subtotal == D("43188.00")
    assert priced.exact_total == D("40488.746401")
    assert priced.total == D("40488.75")
    assert (priced.discount, priced.rounding) == (D("2699.25"), D("0.00"))


# (d) Rounding ------------------------------------------------------------------------------------------

NO_FREE = replace(LIST_PRICES, free_minutes=0)


def test_a_few_minutes_round_to_cents_once():
    # 1 audio min x 0.99 / 1000 = 0.00099 -> 0.00; 2 min 2K+ x 35.99 / 1000 = 0.07198 -> 0.07.
    # Exact total 0.00099 + 0.07198 = 0.07297 -> 0.07.
    priced = price_month({"audio": 1, "video_2k_plus": 2}, NO_FREE)
    assert [line.minutes for line in priced.lines] == [1, 0, 0, 0, 2]
    assert priced.total == D("0.07")
    assert len(priced.lines) == 5  # one line per tier; legacy HD+ is in HD before pricing


def test_rounding_each_line_versus_the_sum_is_a_line_of_its_own():
    # The worst case of rounding each line and not the sum, no band reached:
    # audio 10,006 min (free 10,000): 6 x 0.99 / 1000 = 0.00594 -> 0.01
    # HD 4 min: 4 x 3.99 / 1000 = 0.01596 -> 0.02; Full HD 3 min: 0.02697 -> 0.03; 2K 1 min: 0.01599 -> 0.02
    # Subtotal 0.08; exact total 0.06486 -> 0.06; no band, so no discount; rounding -0.02.
    priced = price_month({"audio": 10_006, "video_hd": 4, "video_full_hd": 3, "video_2k": 1}, LIST_PRICES)
    assert priced.subtotal == D("0.08")
    assert priced.total == D("0.06")
    assert (priced.discount, priced.rounding) == (D("0.00"), D("-0.02"))


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="unknown tiers"):
        price_month({"video_4k": 60}, LIST_PRICES)
    with pytest.raises(ValueError, match="unknown tiers"):
        price_month({"video_hd_plus": 1}, LIST_PRICES)  # a usage column, not a tier: usage.minutes maps it
    with pytest.raises(ValueError, match="negative"):
        price_month({"audio": -1}, LIST_PRICES)
    with pytest.raises(ValueError, match="price"):
        replace(LIST_PRICES, audio=D("-0.01"))
    with pytest.raises(ValueError, match="must start after"):
        replace(LIST_PRICES, discount_bands=((500_000, D(5)), (100_000, D(7))))
    with pytest.raises(ValueError, match="below the previous"):
        replace(LIST_PRICES, discount_bands=((100_000, D(7)), (500_000, D(5))))


# Properties -----------------------------------------------------------------------------------------

# Up to 1.7 million minutes per tier, so months reach every band; small values stay likely too.
minute_values = st.one_of(
    st.integers(0, 200),
    st.integers(0, 20_000),
    st.integers(0, 1_700_000),
)
usage = st.dictionaries(st.sampled_from(TIER_KEYS), minute_values)
price_values = st.decimals(min_value=0, max_value=100, places=4, allow_nan=False, allow_infinity=False)


@st.composite
def any_prices(draw) -> Prices:
    starts = sorted(draw(st.sets(st.integers(1, 2_000_000), max_size=4)))
    percents = sorted(draw(st.lists(st.integers(0, 100), min_size=len(starts), max_size=len(starts))))
    return Prices(
        audio=draw(price_values),
        video_hd=draw(price_values),
        video_full_hd=draw(price_values),
        video_2k=draw(price_values),
        video_2k_plus=draw(price_values),
        free_minutes=draw(st.integers(0, 200_000)),
        discount_bands=tuple(zip(starts, (D(p) for p in percents), strict=True)),
    )


some_prices = st.one_of(st.just(LIST_PRICES), any_prices())


@settings(max_examples=300, deadline=None)
@given(usage, st.sampled_from(TIER_KEYS), minute_values, some_prices)
def test_more_usage_never_lowers_the_bill(before, tier, extra, prices):
    after = dict(before)
    after[tier] = after.get(tier, 0) + extra
    assert price_month(after, prices).total >= price_month(before, prices).total


@settings(max_examples=300, deadline=None)
@given(usage, some_prices)
def test_one_more_minute_in_any_tier_never_lowers_the_bill(before, prices):
    # The sharpest case for the graduated bands: the smallest possible step, from every starting month.
    start = price_month(before, prices)
    for tier in TIER_KEYS:
        after = dict(before)
        after[tier] = after.get(tier, 0) + 1
        assert price_month(after, prices).exact_total >= start.exact_total


@settings(max_examples=300, deadline=None)
@given(usage, some_prices)
def test_total_is_the_sum_of_the_lines_in_cents(minutes, prices):
    priced = price_month(minutes, prices)
    assert priced.subtotal == sum(line.amount for line in priced.lines)
    assert priced.subtotal - priced.discount + priced.rounding == priced.total
    assert priced.discount >= 0
    money = [priced.total, priced.subtotal, priced.discount, priced.rounding] + [x.amount for x in priced.lines]
    for amount in money:
        assert amount.as_tuple().exponent == -2
    assert priced.total >= 0
    assert priced.total_minutes == sum(line.minutes for line in priced.lines)
    assert sum(line.free_minutes for line in priced.lines) == min(prices.free_minutes, priced.total_minutes)
    for x in priced.lines:
        assert x.free_minutes + x.billable_minutes == x.minutes


@settings(max_examples=300, deadline=None)
@given(usage)
def test_discount_is_at_most_ten_percent_and_rounding_a_few_cents(minutes):
    # The exact discount is at most 10% of the exact line amounts (list bands), so its cents at most 10% of
    # the subtotal plus the lines' rounding. The rounding line is what rounding five lines apart (at most
    # 0.005 each) and the discount and the total once more costs: under 3.5 cents, so 3 at most, either way.
    priced = price_month(minutes, LIST_PRICES)
    assert D(0) <= priced.discount <= priced.subtotal / 10 + D("0.01")
    assert abs(priced.rounding) <= D("0.03")
    assert priced.exact_total <= sum(x.billable_minutes * x.unit_price / 1000 for x in priced.lines)
    if priced.total_minutes < 100_000:
        assert priced.discount == 0


@pytest.mark.parametrize("prices", [LIST_PRICES, NO_FREE])
def test_zero_usage_costs_nothing(prices):
    for minutes in ({}, dict.fromkeys(TIER_KEYS, 0)):
        priced = price_month(minutes, prices)
        assert priced.total == D("0.00")
        assert str(priced.total) == "0.00"
        assert priced.total_minutes == 0
        assert all(line.amount == D("0.00") for line in priced.lines)
