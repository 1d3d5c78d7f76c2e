from django.contrib import messages
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from accounts.access import get_for_member, member_required, restrict
from console.refusals import RuleViolation
from console.views import form_data
from projects.models import Project
from projects.services import check_can_issue_tokens

from . import services
from .accesstoken2 import TokenError
from .forms import TABS, InspectForm


@member_required("tokens", "generate")
@require_http_methods(["GET", "POST"])
def temp_token(request, project_id):
    project = get_for_member(
        request.membership,
        Project.objects.select_related("organization").prefetch_related("certificates"),
        project_id=project_id,
    )
    tab = request.GET.get("tab", "rtc")
    if tab not in TABS:
        tab = "rtc"
    form = TABS[tab][1](form_data(request))
    try:
        check_can_issue_tokens(project)
        blocked = ""
    except RuleViolation as error:
        blocked = str(error)
    issued = None
    if request.method == "POST" and not blocked and form.is_valid():
        kind, params = form.token_params()
        try:
            issued = services.issue_temp_token(request.membership, project, kind, params, request=request)
        except (TokenError, RuleViolation) as error:
            form.add_error(error.field, str(error))
    context = {
        "project": project,
        "form": form,
        "tab": tab,
        "tabs": [(key, label) for key, (label, _) in TABS.items()],
        "blocked": blocked,
        "issued": issued,
        "grants": issued.grants() if issued else None,
    }
    response = render(request, "tokens/temp_token.html", context)
    response["Cache-Control"] = "no-store"
    return response


@member_required("projects")
@require_http_methods(["GET", "POST"])
def inspector(request):
    form = InspectForm(form_data(request))
    inspection = None
    if request.method == "POST" and form.is_valid():
        inspection = services.inspect_token(form.cleaned_data["token"], restrict(Project, request.membership))
        if inspection.error:
            messages.error(request, f"This token cannot be read: {inspection.error}")
    response = render(request, "tokens/inspector.html", {"form": form, "inspection": inspection})
    response["Cache-Control"] = "no-store"
    return response
