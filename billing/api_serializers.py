"""Shapes of the native API for billing: statements (invoices) with their lines, and the ledger's transactions.
Amounts are decimal strings in the statement's currency."""

from rest_framework import serializers

from console.api import ModelSerializer, Serializer

from .models import Statement, StatementLine, Transaction

STATUSES = {
    "open": "Nothing paid yet, not due yet",
    "partially_paid": "Part paid, the rest not due yet",
    "paid": "Nothing left to pay (a statement of zero or less is paid when issued)",
    "overdue": "Something still due after the due date",
}


def money_field(help_text: str) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True, help_text=help_text)


class StatementSerializer(ModelSerializer):
    """A statement with what the payments settled on it (annotated by `billing.settlement.with_settlement`)."""

    period_start = serializers.DateField(source="month", read_only=True, help_text="First day of the billed month.")
    period_end = serializers.DateField(read_only=True)
    status = serializers.ChoiceField(
        choices=list(STATUSES.items()),
        read_only=True,
        help_text="open, partially_paid, paid or overdue: payments are applied to the statement they name, "
        "then to the oldest statements with something due; money left over is credit for the next ones.",
    )
    amount_paid = money_field("What payments and credit have paid on this statement so far.")
    amount_due = money_field("What is still to pay: total (0 when negative) minus amount_paid.")
    paid_at = serializers.DateField(
        read_only=True, allow_null=True, help_text="The day it was last fully paid (UTC); null while something is due."
    )

    class Meta:
        model = Statement
        fields = [
            "number",
            "period_start",
            "period_end",
            "issued_at",
            "due_date",
            "currency",
            "total_minutes",
            "usage_total",
            "adjustments_total",
            "total",
            "status",
            "amount_paid",
            "amount_due",
            "paid_at",
        ]
        read_only_fields = fields


class StatementLineSerializer(ModelSerializer):
    class Meta:
        model = StatementLine
        fields = [
            "position",
            "kind",
            "description",
            "usage_month",
            "tier",
            "minutes",
            "free_minutes",
            "billable_minutes",
            "unit_price",
            "amount",
        ]
        read_only_fields = fields


class StatementDetailSerializer(StatementSerializer):
    bill_to = serializers.SerializerMethodField(help_text="The customer block as printed on the invoice.")
    usage_seconds = serializers.DictField(
        child=serializers.IntegerField(), read_only=True, help_text="The month's seconds per usage column."
    )
    lines = StatementLineSerializer(many=True, read_only=True)

    class Meta(StatementSerializer.Meta):
        fields = [*StatementSerializer.Meta.fields, "bill_to", "usage_seconds", "lines"]
        read_only_fields = fields

    def get_bill_to(self, statement: Statement) -> list[str]:
        return statement.billed_to(self.context.get("profile"))


class TransactionSerializer(ModelSerializer):
    statement = serializers.SlugRelatedField(
        slug_field="number",
        read_only=True,
        allow_null=True,
        help_text="The statement a deduction takes from the balance, or the one a payment pays first.",
    )
    recorded_by = serializers.SlugRelatedField(slug_field="email", read_only=True, allow_null=True)

    class Meta:
        model = Transaction
        fields = [
            "id",
            "occurred_on",
            "kind",
            "amount",
            "currency",
            "method",
            "reference",
            "reason",
            "statement",
            "recorded_by",
            "created_at",
        ]
        read_only_fields = fields


class EstimateLineSerializer(Serializer):
    tier = serializers.CharField(
        read_only=True, help_text="audio, video_hd (legacy HD+ included), video_full_hd, video_2k or video_2k_plus."
    )
    label = serializers.CharField(read_only=True)
    minutes = serializers.IntegerField(help_text="Billable minutes of the tier so far (see usage.minutes).")
    free_minutes = serializers.IntegerField(help_text="Free minutes used by this tier.")
    billable_minutes = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=10, decimal_places=4, help_text="Per 1,000 minutes.")
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)


class EstimateSerializer(Serializer):
    """The month-to-date bill estimate, as the Bill estimate page shows it. The lines, less the discount,
    plus the rounding, are the total."""

    date_from = serializers.DateField(help_text="The 1st of the current month (UTC).")
    date_to = serializers.DateField(help_text="Today (UTC), included: its usage is what the last pull brought.")
    currency = serializers.CharField(read_only=True)
    minutes = serializers.DictField(
        child=serializers.IntegerField(), help_text="Billable minutes per tier, as on the usage page's total row."
    )
    total_minutes = serializers.IntegerField()
    free_minutes = serializers.IntegerField(help_text="The month's free minutes of the price book.")
    free_minutes_used = serializers.IntegerField()
    lines = EstimateLineSerializer(many=True)
    subtotal = serializers.DecimalField(max_digits=14, decimal_places=2, help_text="The sum of the lines.")
    discount = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="The graduated volume discount, never negative; deducted."
    )
    rounding = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        help_text="Total - (subtotal - discount): the lines are rounded to cents one by one, the total once.",
    )
    total = serializers.DecimalField(max_digits=14, decimal_places=2)
    price_book_effective_from = serializers.DateField()
    own_price_book = serializers.BooleanField(help_text="False: the default (list) prices.")

    def to_representation(self, estimate) -> dict:
        priced = estimate.priced
        return super().to_representation(
            {
                "date_from": estimate.day_from,
                "date_to": estimate.day_to,
                "currency": priced.currency,
                "minutes": {line.tier: line.minutes for line in priced.lines},
                "total_minutes": priced.total_minutes,
                "free_minutes": estimate.book.free_minutes,
                "free_minutes_used": sum(line.free_minutes for line in priced.lines),
                "lines": priced.lines,
                "subtotal": priced.subtotal,
                "discount": priced.discount,
                "rounding": priced.rounding,
                "total": priced.total,
                "price_book_effective_from": estimate.book.effective_from,
                "own_price_book": estimate.book.organization_id is not None,
            }
        )
