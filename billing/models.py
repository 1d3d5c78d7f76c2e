from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Organization
from console.append_only import AppendOnlyModel
from console.dates import month_end
from console.refusals import Immutable
from console.text import TEXT_MAX, length_at_most

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

    def save(self, *args, **kwargs) -> None:
        # The last line of defence for "a used book is frozen" (the pages check first): an issued
        # statement must never change its numbers because its book was rewritten afterwards.
        if not self._state.adding and self.is_used:
            raise Immutable(
                "This price book is used by an issued statement and cannot be changed; "
                "supersede it with a new book with a later effective date."
            )
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        try:
            problems = pricing.band_problems(parse_bands(self.discount_bands))
        except ValueError as error:
            problems = [str(error)]
        if problems:
            raise ValidationError({"discount_bands": problems})

    @property
    def is_used(self) -> bool:
        """Used by an issued statement: its numbers are frozen (supersede it with a later book)."""
        return self.pk is not None and self.statements.exists()

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

    @classmethod
    def in_force(cls, organization: Organization | None, month_start: date) -> "PriceBook | None":
        """`book_for`, or None when no book is in force (for pages that say so rather than fail)."""
        try:
            return cls.book_for(organization, month_start)
        except cls.DoesNotExist:
            return None


def money_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=14, decimal_places=2, **kwargs)


class Statement(AppendOnlyModel):
    """One month's bill of an organization, issued on the 1st of the next month. Immutable: its numbers
    are frozen at issue, its price book is referenced, and late usage of its month is billed as an
    adjustment line on a later statement. Its invoice number is INV-YYYYMM-#### with #### gapless per
    organization (assigned under the organization's row lock)."""

    organization_path = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="statements")
    month = models.DateField(help_text="First day of the billed month (UTC).")
    sequence = models.PositiveIntegerField(help_text="1, 2, 3... per organization, without gaps.")
    number = models.CharField(max_length=20)
    price_book = models.ForeignKey(PriceBook, on_delete=models.PROTECT, related_name="statements")
    currency = models.CharField(max_length=3)
    issued_at = models.DateTimeField(default=timezone.now)
    due_date = models.DateField(help_text="The statement is deducted from the balance on this day.")
    usage_seconds = models.JSONField(help_text="The month's seconds per usage column when issued.")
    total_minutes = models.PositiveBigIntegerField()
    usage_total = money_field(help_text="The month's usage after free minutes and discount.")
    adjustments_total = money_field(help_text="Late usage of earlier months.")
    total = money_field()
    bill_to = models.JSONField(
        default=list, blank=True, help_text="The billing details when issued, one line each (see bill_to_lines)."
    )

    class Meta:
        ordering = ["organization", "-month"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "month"], name="one_statement_per_org_and_month"),
            models.UniqueConstraint(fields=["organization", "sequence"], name="gapless_statement_sequence"),
        ]

    def __str__(self) -> str:
        return f"{self.number} ({self.organization})"

    @property
    def period_end(self) -> date:
        return month_end(self.month)

    def billed_to(self, profile: "BillingProfile | None" = None) -> list[str]:
        """The customer block printed on the invoice: as it was when issued, so that editing the billing
        details later does not rewrite old invoices (`profile` only for statements without a snapshot)."""
        return list(self.bill_to) or bill_to_lines(self.organization, profile)


def bill_to_lines(organization: Organization, profile: "BillingProfile | None") -> list[str]:
    """The customer block: company (or organization) name, address, country, tax ID, email."""
    if profile is None:
        return [organization.name]
    lines = [profile.company_name or organization.name]
    lines += [line.strip() for line in profile.address.splitlines() if line.strip()]
    if profile.country:
        lines.append(profile.country)
    if profile.tax_id:
        lines.append(f"Tax ID: {profile.tax_id}")
    if profile.billing_email:
        lines.append(profile.billing_email)
    return lines


def invoice_number(month_start: date, sequence: int) -> str:
    return f"INV-{month_start:%Y%m}-{sequence:04d}"


class StatementLine(AppendOnlyModel):
    """A frozen line of a statement. The lines of a statement add up to its total."""

    class Kind(models.TextChoices):
        USAGE = "usage", "Usage"
        DISCOUNT = "discount", "Volume discount"
        ROUNDING = "rounding", "Rounding"
        ADJUSTMENT = "adjustment", "Late usage adjustment"

    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=12, choices=Kind.choices)
    description = models.CharField(max_length=200)
    usage_month = models.DateField(help_text="The month whose usage this line bills.")
    tier = models.CharField(max_length=20, blank=True)
    minutes = models.PositiveBigIntegerField(default=0)
    free_minutes = models.PositiveBigIntegerField(default=0)
    billable_minutes = models.PositiveBigIntegerField(default=0)
    unit_price = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    amount = money_field()

    class Meta:
        ordering = ["statement", "position"]
        constraints = [
            models.UniqueConstraint(fields=["statement", "position"], name="one_statement_line_per_position"),
        ]

    def __str__(self) -> str:
        return f"{self.description}: {self.amount}"


class Transaction(AppendOnlyModel):
    """One entry of an organization's ledger. Positive amounts add to the balance (payments, credits),
    negative ones take from it (statement deductions, refunds paid out, debits). Balance = sum of the
    ledger. Entries are never edited or deleted: a mistake is corrected by a new entry with a reason."""

    class Kind(models.TextChoices):
        PAYMENT = "payment", "Payment"
        DEDUCTION = "deduction", "Statement deduction"
        REFUND = "refund", "Refund"
        ADJUSTMENT = "adjustment", "Adjustment"

    class Method(models.TextChoices):
        BANK_TRANSFER = "bank_transfer", "Bank transfer"
        CARD = "card", "Credit card"
        PAYPAL = "paypal", "PayPal"
        OTHER = "other", "Other"

    organization_path = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="transactions")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    amount = money_field(help_text="Positive adds to the balance, negative takes from it.")
    currency = models.CharField(max_length=3, default="USD")
    occurred_on = models.DateField(help_text="Value date (UTC).")
    method = models.CharField(max_length=20, choices=Method.choices, blank=True)
    reference = models.CharField(max_length=100, blank=True, help_text="Bank or card reference.")
    reason = models.CharField(max_length=300, blank=True)
    statement = models.ForeignKey(
        Statement, on_delete=models.PROTECT, null=True, blank=True, related_name="transactions"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    form_token = models.CharField(
        max_length=32,
        blank=True,
        default="",
        editable=False,
        help_text="The one-time token of the form that recorded the entry: the same form sent twice records once.",
    )

    class Meta:
        ordering = ["-occurred_on", "-id"]
        indexes = [models.Index(fields=["organization", "occurred_on"])]
        constraints = [
            models.UniqueConstraint(
                fields=["statement"], condition=Q(kind="deduction"), name="one_deduction_per_statement"
            ),
            models.UniqueConstraint(
                fields=["organization", "form_token"],
                condition=~Q(form_token=""),
                name="one_entry_per_form_token",
            ),
            models.CheckConstraint(condition=~Q(amount=0), name="transaction_amount_not_zero"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} {self.currency} on {self.occurred_on:%Y-%m-%d}"


class BillingProfile(models.Model):
    """The organization's billing details, printed on its invoices."""

    organization_path = "organization"

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="billing_profile")
    company_name = models.CharField(max_length=200, blank=True)
    address = models.TextField(blank=True, max_length=TEXT_MAX, help_text="Street, city, postal code, one per line.")
    country = models.CharField(max_length=100, blank=True)
    tax_id = models.CharField("Tax ID", max_length=50, blank=True, help_text="VAT or other tax number.")
    billing_email = models.EmailField(blank=True, help_text="Where invoices are sent.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [length_at_most("address", TEXT_MAX)]

    def __str__(self) -> str:
        return f"Billing details of {self.organization}"


DEFAULT_SELLER = "Console"


class SellerProfile(models.Model):
    """Who issues this installation's invoices: printed on every invoice (page and PDF), shown nowhere else.
    One row, set by a superuser in the Django admin; until then `current()` stands in with the name only."""

    legal_name = models.CharField(max_length=200, default=DEFAULT_SELLER, help_text="Printed at the top of invoices.")
    address = models.TextField(blank=True, max_length=TEXT_MAX, help_text="Street, city, postal code, one per line.")
    tax_id = models.CharField("Tax ID", max_length=50, blank=True, help_text="VAT or other tax number.")
    payment_instructions = models.TextField(
        blank=True, max_length=TEXT_MAX, help_text="Printed under “How to pay”: terms, the reference to quote."
    )
    bank_details = models.TextField(
        blank=True, max_length=TEXT_MAX, help_text="Bank, account holder, IBAN, SWIFT/BIC, one per line."
    )
    footer = models.CharField(max_length=300, blank=True, help_text="The last line of every invoice.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "seller details"
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="one_seller_profile"),
            length_at_most("address", TEXT_MAX),
            length_at_most("payment_instructions", TEXT_MAX),
            length_at_most("bank_details", TEXT_MAX),
        ]

    def __str__(self) -> str:
        return f"Seller details ({self.legal_name})"

    def save(self, *args, **kwargs) -> None:
        self.pk = 1  # the one row: saving a second profile rewrites the first instead of adding one
        super().save(*args, **kwargs)

    @classmethod
    def current(cls) -> "SellerProfile":
        """The saved profile, or an unsaved one with the default name."""
        return cls.objects.filter(pk=1).first() or cls()

    def details(self) -> list[str]:
        """The lines under the legal name in the "From" block: the address, then the tax ID."""
        return text_lines(self.address) + ([f"Tax ID: {self.tax_id}"] if self.tax_id else [])

    def payment_blocks(self) -> list[list[str]]:
        """The "How to pay" block: the payment instructions and the bank details, each as lines; the empty
        ones left out (no block at all when neither is set)."""
        blocks = [text_lines(self.payment_instructions), text_lines(self.bank_details)]
        return [block for block in blocks if block]


def text_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


class UsageAlert(models.Model):
    """A threshold on the month-to-date usage of an organization. Crossing it notifies, once per month,
    the members with billing or usage rights (e-mail and the bell)."""

    class Metric(models.TextChoices):
        MINUTES = "minutes", "Minutes this month"
        AMOUNT = "amount", "Estimated amount this month (USD)"

    organization_path = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="usage_alerts")
    metric = models.CharField(max_length=10, choices=Metric.choices)
    threshold = models.DecimalField(max_digits=14, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))])
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["metric", "threshold"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "metric", "threshold"], name="one_alert_per_threshold"),
        ]

    def __str__(self) -> str:
        return f"{self.get_metric_display()} >= {self.threshold}"


class AlertFiring(models.Model):
    """Alert `alert` fired for `month`: the unique pair keeps it to once per threshold per month."""

    alert = models.ForeignKey(UsageAlert, on_delete=models.CASCADE, related_name="firings")
    month = models.DateField()
    value = models.DecimalField(max_digits=16, decimal_places=2, help_text="The month-to-date value when it fired.")
    fired_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["alert", "month"], name="one_alert_firing_per_month")]

    def __str__(self) -> str:
        return f"{self.alert} fired for {self.month:%Y-%m}"
