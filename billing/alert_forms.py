from decimal import Decimal

from django import forms

from accounts.models import Organization
from console.forms import Form

from .alerts import MAX_ALERTS, threshold_problem
from .fields import MoneyField
from .models import UsageAlert


class AlertForm(Form):
    metric = forms.ChoiceField(
        label="Alert on", choices=UsageAlert.Metric.choices, initial=UsageAlert.Metric.MINUTES, widget=forms.RadioSelect
    )
    threshold = MoneyField(
        label="Threshold",
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
        help_text="Whole minutes, or an amount in USD. Alerts notify once a month when the month so far reaches it.",
    )

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = organization

    def clean(self):
        data = super().clean()
        metric, threshold = data.get("metric"), data.get("threshold")
        if UsageAlert.objects.filter(organization=self.organization).count() >= MAX_ALERTS:
            raise forms.ValidationError(f"An organization has at most {MAX_ALERTS} usage alerts; delete one first.")
        if metric is None or threshold is None:
            return data
        problem = threshold_problem(metric, threshold)
        if problem:
            self.add_error("threshold", problem)
        elif UsageAlert.objects.filter(organization=self.organization, metric=metric, threshold=threshold).exists():
            self.add_error("threshold", "There is an alert at this threshold already.")
        return data
