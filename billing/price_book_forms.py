"""The price book form: effective month, five prices, free minutes, and discount bands as text lines.

Discount bands are typed one per line as `min_minutes:percent` ("100000:5", "500,000: 7%"), which is how
the reference writes them and is quicker to edit than rows of inputs. They are stored as the model's
JSON pairs and checked with the same `pricing.band_problems` the pricing function relies on.
"""

import re
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError

from console.forms import Form

from .fields import MoneyField, WholeNumberField
from .models import PRICE_FIELDS, PriceBook, parse_bands
from .pricing import TIERS, band_problems, plain_percent, plain_price
from .services import effective_from_problem

MAX_FREE_MINUTES = 2_147_483_647  # the largest value of the integer column
MAX_BANDS = 20
BAND_MINUTES = re.compile(r"[0-9]{1,12}")
BAND_PERCENT = re.compile(r"[0-9]{1,3}(\.[0-9]{1,2})?")
TIER_LABELS = {tier.key: tier.label for tier in TIERS}


def bands_as_text(raw) -> str:
    """The model's JSON bands as the form's lines (empty when they cannot be read)."""
    try:
        bands = parse_bands(raw)
    except ValueError:
        return ""
    return "\n".join(f"{start}:{plain_percent(percent)}" for start, percent in bands)


def parse_band_lines(text: str) -> tuple[list[list], list[str]]:
    """Lines of "min_minutes:percent" -> (JSON pairs, problems). Blank lines are skipped; thousands
    separators and a trailing % are accepted."""
    bands, problems = [], []
    lines = [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    if len(lines) > MAX_BANDS:
        return [], [f"At most {MAX_BANDS} discount bands."]
    for number, line in lines:
        minutes_text, colon, percent_text = line.partition(":")
        minutes_text = re.sub(r"[\s,_]", "", minutes_text)
        percent_text = percent_text.strip().removesuffix("%").strip()
        if not colon or not BAND_MINUTES.fullmatch(minutes_text) or not BAND_PERCENT.fullmatch(percent_text):
            problems.append(
                f"Line {number} ({line[:40]}): write the band as min_minutes:percent, a whole number of minutes "
                "and a percentage with at most 2 decimals, for example 100000:5."
            )
            continue
        percent = Decimal(percent_text)
        bands.append([int(minutes_text), int(percent) if percent == percent.to_integral_value() else float(percent)])
    return bands, problems


def price_field(tier_key: str) -> MoneyField:
    return MoneyField(
        label=f"{TIER_LABELS[tier_key]} price",
        min_value=0,
        max_digits=10,
        decimal_places=4,
        help_text="USD per 1,000 minutes, up to 4 decimals.",
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),  # styled like the console's other inputs
    )


class PriceBookForm(Form):
    """A new book of `organization`, or changes to its unused `book`. `template` gives the initial values
    of a new book (the book in force, or the book it supersedes)."""

    effective_from = forms.DateField(
        label="Effective from",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="The 1st of the first month priced with this book (UTC). Months already billed cannot be "
        "repriced, so the date must come after the month of your latest statement.",
    )
    currency = forms.CharField(required=False, disabled=True, initial="USD", help_text="Price books are in US dollars.")
    audio_price = price_field("audio")
    video_hd_price = price_field("video_hd")
    video_full_hd_price = price_field("video_full_hd")
    video_2k_price = price_field("video_2k")
    video_2k_plus_price = price_field("video_2k_plus")
    free_minutes = WholeNumberField(
        label="Free minutes per month",
        min_value=0,
        max_value=MAX_FREE_MINUTES,
        help_text="Used in the order Audio, HD, Full HD, 2K, 2K+; they do not carry over.",
        widget=forms.TextInput(attrs={"inputmode": "numeric"}),
    )
    discount_bands = forms.CharField(
        label="Volume discount bands",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "100000:5\n500000:7\n1000000:10"}),
        help_text="One band per line as <code>min_minutes:percent</code>, ascending. Graduated: only the "
        "minutes of the month from a band's start get its percentage. Leave empty for no discount.",
    )

    def __init__(self, data=None, *, organization, book: PriceBook | None = None, template=None, effective_from=None):
        self.organization = organization
        self.book = book
        source = book or template
        initial = {}
        if source is not None:
            initial = {field: plain_price(getattr(source, field)) for field in PRICE_FIELDS.values()}
            initial["free_minutes"] = source.free_minutes
            initial["discount_bands"] = bands_as_text(source.discount_bands)
        initial["effective_from"] = book.effective_from if book is not None else effective_from
        super().__init__(data, initial=initial)

    def clean_effective_from(self):
        value = self.cleaned_data["effective_from"]
        problem = effective_from_problem(self.organization, value, self.book)
        if problem:
            raise ValidationError(problem)
        return value

    def clean_discount_bands(self):
        bands, problems = parse_band_lines(self.cleaned_data["discount_bands"])
        if not problems:
            problems = band_problems(tuple((start, Decimal(str(percent))) for start, percent in bands))
        if problems:
            raise ValidationError(
                [problem[0].upper() + problem[1:] + ("" if problem.endswith(".") else ".") for problem in problems]
            )
        return bands

    def values(self) -> dict:
        """The book's fields from a valid form."""
        names = ["effective_from", *PRICE_FIELDS.values(), "free_minutes", "discount_bands"]
        return {name: self.cleaned_data[name] for name in names}
