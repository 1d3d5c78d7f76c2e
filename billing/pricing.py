"""Pricing: one month's billable minutes per tier and a set of prices -> priced lines and a total.

No database access, so the month-to-date estimate, the issued statement and the tests all call the same
`price_month`. All money is `Decimal`; nothing here uses floats. The minutes come from `usage.minutes`, the
one definition of billable minutes (rounded up per project, tier, business and day; legacy HD+ as HD).

Rules from the reference (agora-console.md section 4):

- Five tiers, in this order: Audio, Video HD, Video Full HD, Video 2K, Video 2K+. Prices are per 1,000
  minutes; Agora's list prices are in `LIST_PRICES`.
- 10,000 free minutes per month, consumed in tier order audio -> HD -> Full HD -> 2K -> 2K+.
- Volume discount bands on the month's minutes: 100,000-499,999 at 5%, 500,000-999,999 at 7%,
  1,000,000 and up at 10%.

Decisions (where the reference is silent or ambiguous):

- Each line's amount = billable minutes x unit price / 1000, quantized to cents once, ROUND_HALF_UP.
- The reference's last band stops at 3,000,000 minutes; we decide that 10% also applies beyond it.
- The discount is GRADUATED, like tax brackets: only the minutes whose position in the month falls inside
  a band get that band's percentage. A flat reading ("the whole month at 5% once you reach 100,000
  minutes") would make 100,000 minutes cheaper than 99,999, i.e. more usage could lower the bill.
- Positions: the free minutes used take positions 1..F; the billable minutes follow, ordered by
  DESCENDING unit price (ties in tier order), so the billable minute of rank r (1-based) sits at position
  F + r. A band starting at N covers positions N up to (next band's start - 1). With this ordering adding
  usage never lowers the exact total: one more minute of price q adds q x (1 - its discount), and pushes
  at most one cheaper minute across each band boundary, which saves at most q x (the increase in
  percentage), i.e. at most q x 10% over all boundaries (bands must be ascending in both minutes and
  percent, and percent <= 100).
- The exact total = sum of the exact (unquantized) line amounts - the exact graduated discount. The
  statement total = that exact total quantized to cents (ROUND_HALF_UP), which is therefore monotone in
  usage. The lines shown: each tier's amount (quantized), the discount (the exact discount quantized, never
  negative), and a rounding line = total - (subtotal - discount), the difference between rounding each line
  and rounding the sum: a cent or two either way, shown only when it is not zero. The lines shown always add
  up exactly to the total.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, localcontext

from usage.minutes import TIERS, Tier

CENT = Decimal("0.01")
PER_MINUTES = 1000  # prices are per 1,000 minutes
_PRECISION = 60  # digits: every intermediate product is exact


TIER_KEYS = frozenset(tier.key for tier in TIERS)  # a tier's key is also the `Prices` attribute of its price

DEFAULT_FREE_MINUTES = 10_000
DEFAULT_DISCOUNT_BANDS: tuple[tuple[int, Decimal], ...] = (
    (100_000, Decimal("5")),
    (500_000, Decimal("7")),
    (1_000_000, Decimal("10")),
)


@dataclass(frozen=True)
class Prices:
    """Unit prices per 1,000 minutes for each tier, free minutes, and discount bands (start, percent)."""

    audio: Decimal
    video_hd: Decimal
    video_full_hd: Decimal
    video_2k: Decimal
    video_2k_plus: Decimal
    free_minutes: int = DEFAULT_FREE_MINUTES
    discount_bands: tuple[tuple[int, Decimal], ...] = DEFAULT_DISCOUNT_BANDS
    currency: str = "USD"

    def __post_init__(self) -> None:
        problems = validation_problems(self)
        if problems:
            raise ValueError("; ".join(problems))

    def unit_price(self, tier: Tier) -> Decimal:
        return getattr(self, tier.key)


def validation_problems(prices: Prices) -> list[str]:
    """What is wrong with a set of prices (empty when valid)."""
    problems = []
    for tier in TIERS:
        price = prices.unit_price(tier)
        if not isinstance(price, Decimal) or not price.is_finite() or price < 0:
            problems.append(f"{tier.label} price must be a Decimal >= 0")
    if prices.free_minutes < 0:
        problems.append("free minutes must be >= 0")
    problems.extend(band_problems(prices.discount_bands))
    return problems


def band_problems(bands: tuple[tuple[int, Decimal], ...]) -> list[str]:
    """Bands must start above 0, ascend strictly in minutes and not descend in percent (0-100)."""
    problems = []
    previous_start, previous_percent = 0, Decimal(0)
    for start, percent in bands:
        if start <= previous_start:
            problems.append(f"discount band starting at {start} minutes must start after {previous_start}")
        if not Decimal(0) <= percent <= Decimal(100):
            problems.append(f"discount band starting at {start} minutes: percent must be between 0 and 100")
        elif percent < previous_percent:
            problems.append(f"discount band starting at {start} minutes: percent must not be below the previous")
        previous_start, previous_percent = start, max(previous_percent, percent)
    return problems


LIST_PRICES = Prices(
    audio=Decimal("0.99"),
    video_hd=Decimal("3.99"),
    video_full_hd=Decimal("8.99"),
    video_2k=Decimal("15.99"),
    video_2k_plus=Decimal("35.99"),
)


@dataclass(frozen=True)
class Line:
    tier: str
    label: str
    minutes: int
    free_minutes: int
    billable_minutes: int
    unit_price: Decimal  # per 1,000 minutes
    amount: Decimal  # cents


@dataclass(frozen=True)
class Priced:
    lines: tuple[Line, ...]
    total_minutes: int
    subtotal: Decimal  # sum of the line amounts
    discount: Decimal  # the graduated volume discount, in cents, >= 0 (a line shown as a deduction)
    rounding: Decimal  # total - (subtotal - discount): a cent or two, either way, usually 0
    total: Decimal
    currency: str = "USD"
    exact_total: Decimal = field(default=Decimal(0), compare=False)  # before quantizing, for audits


def to_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def tier_minutes(minutes_by_tier: Mapping[str, int]) -> list[int]:
    """Minutes in TIERS order; unknown tiers and negative minutes are an error."""
    unknown = set(minutes_by_tier) - TIER_KEYS
    if unknown:
        raise ValueError(f"unknown tiers: {sorted(unknown)}")
    minutes = [int(minutes_by_tier.get(tier.key, 0) or 0) for tier in TIERS]
    if any(value < 0 for value in minutes):
        raise ValueError("negative minutes")
    return minutes


def apply_free_minutes(minutes: list[int], free_minutes: int) -> list[int]:
    """Free minutes used per tier, consumed in tier order."""
    used = []
    left = free_minutes
    for tier_minutes in minutes:
        take = min(tier_minutes, left)
        used.append(take)
        left -= take
    return used


def band_ranges(bands: tuple[tuple[int, Decimal], ...]) -> list[tuple[int, int | None, Decimal]]:
    """(first position, last position or None for no end, percent) for each band."""
    ranges = []
    for index, (start, percent) in enumerate(bands):
        end = bands[index + 1][0] - 1 if index + 1 < len(bands) else None
        ranges.append((start, end, percent))
    return ranges


def graduated_discount(
    billable: list[tuple[Decimal, int]], free_used: int, bands: tuple[tuple[int, Decimal], ...]
) -> Decimal:
    """Exact discount on (unit price, billable minutes) groups, placed after the free minutes by
    descending unit price (the sort is stable, so ties keep tier order)."""
    discount = Decimal(0)
    position = free_used + 1  # first billable minute's position
    for price, count in sorted(billable, key=lambda group: group[0], reverse=True):
        if count == 0:
            continue
        first, last = position, position + count - 1
        for start, end, percent in band_ranges(bands):
            overlap = min(last, end if end is not None else last) - max(first, start) + 1
            if overlap > 0:
                discount += Decimal(overlap) * price * percent / 100 / PER_MINUTES
        position = last + 1
    return discount


def price_month(minutes_by_tier: Mapping[str, int], prices: Prices) -> Priced:
    """Price one month's billable minutes per tier (see `usage.minutes`) with `prices`."""
    with localcontext() as context:
        context.prec = _PRECISION
        minutes = tier_minutes(minutes_by_tier)
        free = apply_free_minutes(minutes, prices.free_minutes)
        lines = []
        exact_lines = Decimal(0)
        billable_groups = []
        for tier, minutes_of_tier, free_used in zip(TIERS, minutes, free, strict=True):
            billable = minutes_of_tier - free_used
            unit_price = prices.unit_price(tier)
            exact_amount = Decimal(billable) * unit_price / PER_MINUTES
            exact_lines += exact_amount
            billable_groups.append((unit_price, billable))
            lines.append(
                Line(
                    tier=tier.key,
                    label=tier.label,
                    minutes=minutes_of_tier,
                    free_minutes=free_used,
                    billable_minutes=billable,
                    unit_price=unit_price,
                    amount=to_cents(exact_amount),
                )
            )
        exact_discount = graduated_discount(billable_groups, sum(free), prices.discount_bands)
        exact_total = exact_lines - exact_discount
        total = to_cents(exact_total)
        subtotal = sum((line.amount for line in lines), Decimal("0.00"))
        discount = to_cents(exact_discount)
        return Priced(
            lines=tuple(lines),
            total_minutes=sum(minutes),
            subtotal=subtotal,
            discount=discount,
            rounding=total - (subtotal - discount),
            total=total,
            currency=prices.currency,
            exact_total=exact_total,
        )


def plain_price(value: Decimal | int | str) -> str:
    """0.9900 -> "0.99", 1 -> "1.00", 0.8912 -> "0.8912": as many decimals as the price has, at least 2."""
    whole, _, decimals = f"{Decimal(value):.4f}".rstrip("0").partition(".")
    return f"{whole}.{decimals.ljust(2, '0')}"


def plain_percent(value: Decimal | int | float | str) -> str:
    text = f"{Decimal(str(value)):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
