from decimal import Decimal

from django import forms
from django.utils import timezone

from .models import BillingProfile, Transaction


class DateInput(forms.DateInput):
    input_type = "date"


def amount_field(help_text: str) -> forms.DecimalField:
    return forms.DecimalField(
        label="Amount (USD)",
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        help_text=help_text,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "placeholder": "0.00"}),
        error_messages={"min_value": "The amount must be more than zero."},
    )


def value_date_field() -> forms.DateField:
    return forms.DateField(
        label="Date",
        initial=lambda: timezone.now().date(),
        widget=DateInput,
        help_text="The value date (UTC): the day the money was received or the correction applies. Not in the future.",
    )


class ValueDateMixin:
    def clean_occurred_on(self):
        day = self.cleaned_data["occurred_on"]
        if day > timezone.now().date():
            raise forms.ValidationError("The date cannot be in the future.")
        return day


class PaymentForm(ValueDateMixin, forms.Form):
    amount = amount_field("Received money: adds to the balance. Two decimals at most.")
    method = forms.ChoiceField(label="Payment method", choices=Transaction.Method.choices)
    reference = forms.CharField(
        label="Reference",
        max_length=100,
        required=False,
        help_text="The bank transfer or card reference, to find the payment again.",
    )
    occurred_on = value_date_field()


CORRECTION_CHOICES = [
    ("refund", "Refund: money paid back to the customer (takes from the balance)"),
    ("credit", "Credit: adds to the balance"),
    ("debit", "Debit: takes from the balance"),
]


class CorrectionForm(ValueDateMixin, forms.Form):
    correction = forms.ChoiceField(label="Kind of correction", choices=CORRECTION_CHOICES, widget=forms.RadioSelect)
    amount = amount_field("A positive amount; the kind of correction gives its sign. Two decimals at most.")
    reason = forms.CharField(
        label="Reason",
        max_length=300,
        help_text="Shown in the transaction list and the audit log. Ledger entries are never edited, so say why.",
        error_messages={"required": "Give the reason for this entry."},
    )
    occurred_on = value_date_field()


class BillingProfileForm(forms.ModelForm):
    class Meta:
        model = BillingProfile
        fields = ["company_name", "address", "country", "tax_id", "billing_email"]
        labels = {"company_name": "Company name", "billing_email": "Billing email"}
        help_texts = {"company_name": "Printed on invoices; the organization's name when empty."}
        widgets = {"address": forms.Textarea(attrs={"rows": 4})}
