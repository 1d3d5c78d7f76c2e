"""Shapes of the native API for billing: statements (invoices) with their lines, and the ledger's transactions.
Amounts are decimal strings in the statement's currency."""

from rest_framework import serializers

from console.api import ModelSerializer

from .models import Statement, StatementLine, Transaction

STATUSES = {
    "pending": "Not deducted from the balance yet",
    "paid": "Deducted and covered by the balance",
    "unpaid": "Deducted, not covered yet",
}


class StatementSerializer(ModelSerializer):
    period_start = serializers.DateField(source="month", read_only=True, help_text="First day of the billed month.")
    period_end = serializers.DateField(read_only=True)
    status = serializers.ChoiceField(choices=list(STATUSES.items()), read_only=True)

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
        slug_field="number", read_only=True, allow_null=True, help_text="The statement a deduction settles."
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
