"""Usage settings (the upstream, project mappings) and the Data sync page (pull runs, backfills).

Who may do what: usage "view" sees Data sync and polls a run's status; usage "manage" (Admin) also opens
the settings, tests the connection, edits mappings and starts backfills. Every query goes through
accounts.access (restrict / get_for_member); every change is a service of usage.services, which these views
call with the member acting and turn into page messages.
"""

from django.conf import settings
from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import get_for_member, member_required, require, restrict
from console.changelist import Changelist, Column, Filter
from console.dates import duration_label
from console.navigation import tabs
from console.refusals import RuleViolation
from console.views import form_data
from projects.models import Project

from . import services
from .forms import BackfillForm, MappingForm, UpstreamForm
from .models import ProjectMapping, PullRun, Upstream
from .pulling import pullable_projects, windows
from .tabs import USAGE_TABS

ERROR_EXCERPT = 90


def _upstream(membership) -> Upstream | None:
    return restrict(Upstream, membership).first()


# Settings -----------------------------------------------------------------------------------------


@member_required("usage", "manage")
@require_http_methods(["GET", "POST"])
def upstream_settings(request):
    membership = request.membership
    upstream = _upstream(membership)
    form = UpstreamForm(form_data(request), upstream=upstream)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            changed = services.save_upstream(
                membership, data["base_url"], data["customer_id"], data["customer_secret"], request=request
            )
        except RuleViolation as error:
            form.add_error(error.field, str(error))
        else:
            if changed:
                messages.success(request, "Upstream settings saved. Test the connection to check them.")
            else:
                messages.info(request, "Nothing changed.")
            return redirect("usage:settings")
    projects = restrict(Project, membership)
    mapped = restrict(ProjectMapping, membership)
    context = {
        "usage_tabs": tabs(request, "settings", USAGE_TABS),
        "form": form,
        "upstream": upstream,
        "sandbox": settings.USAGE_SANDBOX,
        "default_url": settings.USAGE_UPSTREAM_URL,
        "check_ok": bool(upstream and upstream.last_check_result.startswith("Connected")),
        "project_count": projects.count(),
        "mapped_count": mapped.count(),
        "hand_count": mapped.filter(matched_automatically=False).count(),
        "unmapped_count": projects.filter(usage_mapping__isnull=True).count(),
    }
    response = render(request, "usage/settings.html", context)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@member_required("usage", "manage")
def test_connection(request):
    """GET /dev/v1/projects with the saved settings, then match console projects by App ID."""
    membership = request.membership
    back = "usage:mappings" if request.POST.get("next") == "mappings" else "usage:settings"
    try:
        check = services.check_connection(membership, request=request)
    except RuleViolation as error:
        messages.error(request, str(error))
        return redirect("usage:settings")
    if not check.ok:
        messages.error(request, f"Connection failed. {check.reason}")
        return redirect(back)
    unmapped = restrict(Project, membership).filter(usage_mapping__isnull=True).count()
    by_hand = restrict(ProjectMapping, membership).filter(matched_automatically=False).count()
    noun = "project" if check.listed == 1 else "projects"
    details = [f"{check.matched} of your projects matched by App ID"]
    if by_hand:
        details.append(f"{by_hand} set by hand kept")
    if unmapped:
        details.append(f"{unmapped} without a match (set them on Project mappings)")
    messages.success(request, f"Connected: {check.listed} {noun} upstream. " + "; ".join(details) + ".")
    return redirect(back)


# Project mappings ---------------------------------------------------------------------------------


@member_required("usage", "manage")
@require_http_methods(["GET", "POST"])
def mappings(request):
    membership = request.membership
    projects = restrict(Project, membership).order_by("name")
    remove = request.POST.get("action") == "remove"
    initial = {}
    if request.method == "GET" and request.GET.get("project"):
        with_mapping = Project.objects.select_related("usage_mapping")
        chosen = get_for_member(membership, with_mapping, project_id=request.GET["project"])
        initial["project"] = chosen.project_id
        mapping = getattr(chosen, "usage_mapping", None)
        initial["upstream_project_id"] = mapping.upstream_project_id if mapping else ""
    form = MappingForm(form_data(request), projects=projects, remove=remove, initial=initial)
    if request.method == "POST" and form.is_valid():
        project, upstream_id = form.cleaned_data["project"], form.cleaned_data["upstream_project_id"]
        _save_mapping(request, project, None if remove else upstream_id)
        return redirect("usage:mappings")
    changelist = Changelist(
        request,
        projects.select_related("usage_mapping"),
        columns=[
            Column("Project", "name"),
            Column("App ID"),
            Column("Upstream project ID", "usage_mapping__upstream_project_id"),
            Column("Matched"),
            Column("Pulled"),
            Column("Updated", "usage_mapping__updated_at"),
            Column(""),
        ],
        row_template="usage/includes/run_mapping_row.html",
        search_fields=("name", "app_id", "project_id", "usage_mapping__upstream_project_id"),
        search_placeholder="Search name, App ID or upstream ID",
        filters=[
            Filter(
                "matched",
                "Matched",
                "usage_mapping__matched_automatically",
                [("True", "By App ID"), ("False", "By hand")],
            )
        ],
        default_ordering=("name",),
        empty_title="No projects yet",
        empty_text="Create a project first; it is matched to the upstream by its App ID.",
    )
    context = {
        "usage_tabs": tabs(request, "settings", USAGE_TABS),
        "form": form,
        "changelist": changelist,
        "editing": bool(initial),
        "unmapped_count": projects.filter(usage_mapping__isnull=True).count(),
    }
    return render(request, "usage/mappings.html", context)


def _save_mapping(request, project: Project, upstream_id: str | None) -> None:
    if upstream_id is None:
        if not services.remove_mapping(request.membership, project, request=request):
            messages.info(request, f"{project.name} had no mapping.")
            return
        messages.success(
            request,
            f"The mapping of {project.name} is removed. The next sync matches it by App ID again, if it can.",
        )
    elif not services.set_mapping(request.membership, project, upstream_id, request=request):
        messages.info(request, "Nothing changed.")
    else:
        messages.success(
            request, f"{project.name} now pulls its usage from upstream project {upstream_id} (set by hand)."
        )


# Data sync ----------------------------------------------------------------------------------------


def _runs(membership):
    """The usage pull runs a member may see (network's channel and call pulls are runs too, not shown here). A
    run may cover the whole organization (no project), so PullRun has no project_path; a member limited to
    selected projects sees the runs of those projects only."""
    runs = restrict(PullRun, membership).filter(kind=PullRun.Kind.USAGE)
    if not membership.role.all_projects:
        runs = runs.filter(project__in=restrict(Project, membership))
    return runs


@member_required("usage")
@require_http_methods(["GET", "POST"])
def data_sync(request):
    membership = request.membership
    can_manage = membership.can("usage", "manage")
    if request.method == "POST":
        require(membership, "usage", "manage")
    upstream = _upstream(membership)
    form = None
    if can_manage:
        pullable = restrict(pullable_projects(membership.organization), membership).order_by("name")
        form = BackfillForm(form_data(request), projects=pullable, allow_all=membership.role.all_projects)
        if request.method == "POST" and form.is_valid() and _start_backfill(request, form):
            return redirect("usage:sync")
    changelist = Changelist(
        request,
        _runs(membership).select_related("project", "started_by"),
        columns=[
            Column("Started", "created_at"),
            Column("Trigger", "trigger"),
            Column("Who"),
            Column("Window", "date_from"),
            Column("Status", "status"),
            Column("Progress"),
            Column("Rows written", "rows_written"),
            Column("Attempts", "attempts"),
            Column("Duration"),
            Column("Error"),
        ],
        row_template="usage/includes/run_row.html",
        filters=[
            Filter("status", "Status", "status", PullRun.Status.choices),
            Filter("trigger", "Trigger", "trigger", PullRun.Trigger.choices),
        ],
        date_field="created_at",
        default_ordering=("-created_at", "-id"),
        empty_title="No pulls yet",
        empty_text="Usage is pulled every hour for every enabled project; backfills show up here too.",
    )
    changelist.page.object_list = list(changelist.page.object_list)
    for run in changelist.page.object_list:
        run.duration_label = duration_label(run.duration)
        run.error_excerpt = run.error.splitlines()[0][:ERROR_EXCERPT] if run.error else ""
    context = {
        "usage_tabs": tabs(request, "sync", USAGE_TABS),
        "form": form,
        "can_manage": can_manage,
        "upstream": upstream,
        "changelist": changelist,
        "active_count": _runs(membership).filter(status__in=[PullRun.Status.QUEUED, PullRun.Status.RUNNING]).count(),
    }
    return render(request, "usage/sync.html", context)


def _start_backfill(request, form: BackfillForm) -> bool:
    """Start the backfill the form asks for and say so. False (with a form error) when it is refused."""
    project, day_from, day_to = (form.cleaned_data[name] for name in ("project", "date_from", "date_to"))
    try:
        run = services.start_backfill(request.membership, project, day_from, day_to, request=request)
    except RuleViolation as error:
        form.add_error(error.field, str(error))
        return False
    run.refresh_from_db(fields=["status"])
    if run.status == PullRun.Status.FAILED:  # the queue was unavailable: the run says why
        messages.error(request, "The backfill could not be queued (the task queue is unavailable). Try again later.")
        return True
    chunks = len(windows(day_from, day_to))
    what = project.name if project else "all enabled projects"
    messages.success(
        request,
        f"Backfill queued: {what}, {day_from.isoformat()} to {day_to.isoformat()} "
        f"({chunks} window{'s' if chunks != 1 else ''} of up to 31 days per project). Its progress is shown below.",
    )
    return True


@require_GET
@member_required("usage")
def run_status(request, pk):
    run = get_for_member(request.membership, _runs(request.membership), pk=pk)
    response = JsonResponse(
        {
            "status": run.status,
            "status_label": run.get_status_display(),
            "progress_percent": run.progress_percent,
            "windows_done": run.windows_done,
            "windows_failed": run.windows_failed,
            "windows_total": run.windows_total,
            "rows_written": run.rows_written,
            "error": run.error,
            "finished": not run.is_active,
        }
    )
    response["Cache-Control"] = "no-store"
    return response
