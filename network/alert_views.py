"""A project's quality alerts: the list with the latest firings, a form to add one (channels "manage") and
the confirmation to delete one."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.access import member_required, require
from console.refusals import RuleViolation
from console.views import CONFIRM_METHODS, confirm_then_act

from . import alerts
from .forms import QualityAlertForm
from .models import QualityAlert, QualityAlertFiring
from .pages import project_for, render_project_page


@member_required("channels")
@require_http_methods(["GET", "POST"])
def quality_alerts(request, project_id):
    project = project_for(request, project_id)
    can_manage = request.membership.can("channels", "manage")
    form = QualityAlertForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        require(request.membership, "channels", "manage")
        if form.is_valid():
            try:
                alert = alerts.create_alert(request.membership, project, **form.cleaned_data, request=request)
            except RuleViolation as refusal:
                form.add_error(refusal.field, str(refusal))
            else:
                messages.success(request, f"Alert added: {alert}.")
                return redirect("channels:quality_alerts", project.project_id)
    context = {
        "alerts": QualityAlert.objects.filter(project=project),
        "firings": QualityAlertFiring.objects.filter(alert__project=project).select_related("alert")[:20],
        "form": form if can_manage else None,
        "can_manage": can_manage,
        "min_media_minutes": alerts.MIN_MEDIA_SECONDS // 60,
    }
    return render_project_page(request, project, "alerts", "network/quality_alerts.html", context, title="Alerts")


@member_required("channels", "manage")
@require_http_methods(CONFIRM_METHODS)
def delete_quality_alert(request, project_id, pk):
    project = project_for(request, project_id)
    alert = get_object_or_404(QualityAlert, project=project, pk=pk)
    back = reverse("channels:quality_alerts", args=[project.project_id])
    return confirm_then_act(
        request,
        act=lambda: alerts.delete_alert(request.membership, alert, request=request),
        done=f"Alert deleted: {alert}.",
        title="Delete this quality alert?",
        message=f"“{alert}” on {project.name} will no longer notify anyone. Its past firings are deleted with it.",
        action_label="Delete alert",
        cancel_url=back,
        parent=("Alerts", back),
    )
