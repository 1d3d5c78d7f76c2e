"""Usage alerts: the list with this month's figures and the form to add one; deleting through a confirmation."""

from django.contrib import messages
from django.db.models import Prefetch
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.http import require_http_methods

from accounts.access import get_for_member, member_required, require, restrict
from console.dates import month_start, utc_today
from console.navigation import tabs
from console.refusals import RuleViolation
from console.views import confirm_then_act, form_data

from . import alerts as service
from .alert_forms import AlertForm
from .models import AlertFiring, UsageAlert
from .tabs import BILLING_TABS

ALERTS_SECTION = ("Usage alerts", reverse_lazy("billing:alerts"))


@member_required("billing")
@require_http_methods(["GET", "POST"])
def alerts(request):
    membership = request.membership
    if request.method == "POST":
        require(membership, "billing", "manage")
    form = None
    if membership.can("billing", "manage"):
        form = AlertForm(form_data(request), organization=membership.organization)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                alert = service.create_alert(membership, data["metric"], data["threshold"], request=request)
            except RuleViolation as error:
                form.add_error(error.field, str(error))
            else:
                messages.success(request, f"Usage alert added: {service.format_value(alert.metric, alert.threshold)}.")
                return redirect("billing:alerts")
    today = utc_today()
    month = month_start(today)
    this_month = Prefetch("firings", queryset=AlertFiring.objects.filter(month=month), to_attr="this_month")
    rows = [
        {
            "alert": alert,
            "threshold": service.format_value(alert.metric, alert.threshold),
            "firing": alert.this_month[0] if alert.this_month else None,
        }
        for alert in restrict(UsageAlert, membership).prefetch_related(this_month)
    ]
    values = service.current_values(membership.organization, today)
    context = {
        "billing_tabs": tabs(request, "alerts", BILLING_TABS),
        "rows": rows,
        "form": form,
        "month": month,
        "today": today,
        "minutes": service.format_value(service.MINUTES, values[service.MINUTES]),
        "amount": None
        if values[service.AMOUNT] is None
        else service.format_value(service.AMOUNT, values[service.AMOUNT]),
        "max_alerts": service.MAX_ALERTS,
    }
    return render(request, "billing/alerts.html", context)


@member_required("billing", "manage")
@require_http_methods(["GET", "POST"])
def delete_alert(request, pk):
    alert = get_for_member(request.membership, UsageAlert, pk=pk)
    described = f"{alert.get_metric_display()} at {service.format_value(alert.metric, alert.threshold)}"
    return confirm_then_act(
        request,
        act=lambda: service.delete_alert(request.membership, alert, request=request),
        done=f"Usage alert deleted: {described}.",
        title="Delete this usage alert?",
        message=f"The alert “{described}” is deleted for good.",
        consequences=[
            "Nobody is notified about this threshold any more.",
            "Notifications and e-mails already sent stay.",
        ],
        action_label="Delete alert",
        cancel_url=reverse("billing:alerts"),
        parent=ALERTS_SECTION,
    )
