import secrets
from decimal import Decimal

from django import forms

from console.dates import utc_today
from console.forms import Form, ModelForm

from . import ledger, settlement
from .fields import MoneyField
from .invoice_pdf import money
from .models import BillingProfile, Statement, Transaction


class DateInput(forms.DateInput):
    input_type = "date"


def new_form_token() -> str:
    return secrets.token_hex(16)


def amount_field(help_text: str) -> MoneyField:
    return MoneyField(
        label="Amount (USD)",
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        help_text=help_text,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "placeholder": "0.00"}),
        error_messages={"min_value": "The amount must be more than zero."},
    )


def value_date_field() -> forms.DateField:
    return forms.DateField(label="Date", initial=utc_today, widget=DateInput)


class LedgerEntryForm(Form):
    """A form that records one entry on the ledger of `organization`.

    Each page shown carries a fresh one-time token; the ledger stores it with the entry, unique per
    organization, so the same form sent twice records one entry. The value date lies in the ledger's window.
    """

    form_token = forms.CharField(widget=forms.HiddenInput, required=False, initial=new_form_token)

    def __init__(self, data=None, *, organization):
        super().__init__(data)
        self.organization = organization
        earliest, today = ledger.earliest_value_date(organization), utc_today()
        field = self.fields["occurred_on"]
        field.widget.attrs.update(min=f"{earliest:%Y-%m-%d}", max=f"{today:%Y-%m-%d}")
        field.help_text = (
            "The value date (UTC): the day the money was received or the correction applies. "
            f"From {earliest:%Y-%m-%d} to today: never in the future, and at most a year before the "
            "organization was created or first billed, so that a mistyped year is caught."
        )

    def clean_occurred_on(self):
        day = self.cleaned_data["occurred_on"]
        problem = ledger.value_date_problem(self.organization, day)
        if problem:
            raise forms.ValidationError(problem)
        return day

    def clean(self):
        data = super().clean()
        if not ledger.FORM_TOKEN.fullmatch(data.get("form_token") or ""):
            # Shown again with a fresh token, so that sending the corrected form works.
            self.data = self.data.copy()
            self.data["form_token"] = new_form_token()
            raise forms.ValidationError(
                "This form was not sent as the console showed it. Check the values and send it again.",
                code="form_token",
            )
        return data


def due_choices(organization) -> list[tuple[int, str]]:
    """The organization's statements with something due, oldest first: "INV-202601-0001: USD 15.99 due"."""
    return [
        (each.statement_id, f"{each.number}: {money(each.amount_due)} due")
        for each in settlement.settle_organization(organization).with_amount_due
    ]


class PaymentForm(LedgerEntryForm):
    amount = amount_field("Received money: adds to the balance. Two decimals at most.")
    statement = forms.ModelChoiceField(
        label="Apply to invoice",
        queryset=Statement.objects.none(),
        required=False,
        empty_label="Oldest due first",
        help_text="The invoice this payment pays first. What is left pays the other invoices with something due, "
        "oldest first, and the rest stays as credit for the next invoices.",
    )
    method = forms.ChoiceField(label="Payment method", choices=Transaction.Method.choices)
    reference = forms.CharField(
        label="Reference",
        max_length=100,
        required=False,
        help_text="The bank transfer or card reference, to find the payment again.",
    )
    # Hidden until the reference turns out to be an earlier payment's (see `ask_to_confirm`).
    same_reference_ok = forms.BooleanField(
        label="Record it anyway",
        required=False,
        widget=forms.HiddenInput,
        help_text="Tick when this is another payment with the same reference, not the same one entered twice.",
    )
    occurred_on = value_date_field()

    def __init__(self, data=None, *, organization):
        super().__init__(data, organization=organization)
        field = self.fields["statement"]
        # Any statement of the organization is accepted (one paid while the form was open is still a fine
        # target: the money then goes on to the others), but only those with something due are offered.
        field.queryset = Statement.objects.filter(organization=organization)
        field.choices = [("", field.empty_label), *due_choices(organization)]

    def ask_to_confirm(self, warning: ledger.SameReference) -> None:
        """Show the form again with the warning on the reference and the box that records it anyway."""
        self.add_error("reference", str(warning))
        self.fields["same_reference_ok"].widget = forms.CheckboxInput()


CORRECTION_CHOICES = [
    ("refund", "Refund: money paid back to the customer (takes from the balance)"),
    ("credit", "Credit: adds to the balance"),
    ("debit", "Debit: takes from the balance"),
]


class CorrectionForm(LedgerEntryForm):
    correction = forms.ChoiceField(label="Kind of correction", choices=CORRECTION_CHOICES, widget=forms.RadioSelect)
    amount = amount_field("A positive amount; the kind of correction gives its sign. Two decimals at most.")
    reason = forms.CharField(
        label="Reason",
        max_length=300,
        help_text="Shown in the transaction list and the audit log. Ledger entries are never edited, so say why.",
        error_messages={"required": "Give the reason for this entry."},
    )
    occurred_on = value_date_field()


class BillingProfileForm(ModelForm):
    class Meta:
        model = BillingProfile
        fields = ["company_name", "address", "country", "tax_id", "billing_email"]
        labels = {"company_name": "Company name", "billing_email": "Billing email"}
        help_texts = {"company_name": "Printed on invoices; the organization's name when empty."}
        widgets = {"address": forms.Textarea(attrs={"rows": 4})}
