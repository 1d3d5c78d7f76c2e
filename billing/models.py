from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Organization

from . import pricing

PRICE_FIELDS = {  # pricing tier key -> PriceBook field
    "audio": "audio_price",
    "video_hd": "video_hd_price",
    "video_full_hd": "video_full_hd_price",
    "video_2k": "video_2k_price",
    "video_2k_plus": "video_2k_plus_price",
}


def default_discount_bands() -> list[list[int]]:
    return [[start, int(percent)] for start, percent in pricing.DEFAULT_DISCOUNT_BANDS]


def price_field(label: str) -> models.DecimalField:
    return models.DecimalField(
        f"{label} price",
        max_digits=10,
        decimal_places=4,
        validators=[MinValueValidator(Decimal(0))],
        help_text="Per 1,000 minutes.",
    )


def parse_bands(raw) -> tuple[tuple[int, Decimal], ...]:
    """JSON [[min_minutes, percent], ...] -> pricing bands; ValueError when the shape is wrong."""
    if not isinstance(raw, list):
        raise ValueError("discount bands must be a list of [min_minutes, percent] pairs")
    bands = []
    for band in raw:
        if not isinstance(band, list | tuple) or len(band) != 2:
            raise ValueError("each discount band must be a [min_minutes, percent] pair")
        start, percent = band
        if isinstance(start, bool) or not isinstance(start, int):
            raise ValueError("a discount band's min_minutes must be a whole number")
        if isinstance(percent, bool) or not isinstance(percent, int | float | str):
            raise ValueError("a discount band's percent must be a number")
        try:
            bands.append((start, Decimal(str(percent))))
        except ArithmeticError as error:
            raise ValueError("a discount band's percent must be a number") from error
    return tuple(bands)


class PriceBook(models.Model):
    """Prices per 1,000 minutes per tier, monthly free minutes and volume-discount bands, in force from
    `effective_from`. A book without an organization is the default book; an organization's own books
    (negotiated prices) override it from their effective date. Statements will reference the book they
    were priced with, so a book is superseded by a newer effective date rather than rewritten."""

    organization_path = "organization"

    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="price_books",
        null=True,
        blank=True,
        help_text="Empty: the default book, used by organizations without a book of their own.",
    )
    effective_from = models.DateField(help_text="Applies to months starting on or after this date.")
    currency = models.CharField(max_length=3, default="USD")
    audio_price = price_field("Audio")
    video_hd_price = price_field("Video HD")
    video_full_hd_price = price_field("Video Full HD")
    video_2k_price = price_field("Video 2K")
    video_2k_plus_price = price_field("Video 2K+")
    free_minutes = models.PositiveIntegerField(default=pricing.DEFAULT_FREE_MINUTES)
    discount_bands = models.JSONField(
        default=default_discount_bands,
        blank=True,
        help_text="[[min_minutes, percent], ...], ascending; graduated like tax brackets.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["organization__name", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "effective_from"], name="one_price_book_per_org_and_date"),
            models.UniqueConstraint(
                fields=["effective_from"],
                condition=Q(organization__isnull=True),
                name="one_default_price_book_per_date",
            ),
            models.CheckConstraint(
                condition=Q(audio_price__gte=0)
                & Q(video_hd_price__gte=0)
                & Q(video_full_hd_price__gte=0)
                & Q(video_2k_price__gte=0)
                & Q(video_2k_plus_price__gte=0),
                name="price_book_prices_not_negative",
            ),
        ]

    def __str__(self) -> str:
        owner = self.organization.name if self.organization_id else "Default"
        return f"{owner} price book from {self.effective_from:%Y-%m-%d}"

    def clean(self) -> None:
        super().clean()
        try:
            problems = pricing.band_problems(parse_bands(self.discount_bands))
        except ValueError as error:
            problems = [str(error)]
        if problems:
            raise ValidationError({"discount_bands": problems})

    def prices(self) -> pricing.Prices:
        """This book as `pricing.Prices` (ValueError when its numbers are invalid)."""
        return pricing.Prices(
            **{tier: Decimal(getattr(self, field)) for tier, field in PRICE_FIELDS.items()},
            free_minutes=self.free_minutes,
            discount_bands=parse_bands(self.discount_bands),
            currency=self.currency,
        )

    @classmethod
    def book_for(cls, organization: Organization | None, month_start: date) -> "PriceBook":
        """The book pricing the month starting `month_start`: the organization's own book in force (latest
        effective_from <= month_start), else the default book in force. DoesNotExist when neither is."""
        in_force = cls.objects.filter(effective_from__lte=month_start).order_by("-effective_from", "-id")
        if organization is not None:
            own = in_force.filter(organization=organization).first()
            if own is not None:
                return own
        default = in_force.filter(organization__isnull=True).first()
        if default is None:
            raise cls.DoesNotExist(f"no price book in force on {month_start:%Y-%m-%d}")
        return default
