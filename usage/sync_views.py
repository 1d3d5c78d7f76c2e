"""Usage settings (the upstream, project mappings) and the Data sync page (pull runs, backfills).

Who may do what: usage "view" sees Data sync and polls a run's status; usage "manage" (Admin) also opens
the settings, tests the connection, edits mappings and starts backfills. Every query goes through
accounts.access (restrict / get_for_member).
"""

import logging
from functools import partial

import requests
from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts import audit
from accounts.access import get_for_member, member_required, require, restrict
from console.changelist import Changelist, Column, Filter
from console.dates import duration_label
from console.views import form_data
from projects.models import Project

from . import tasks
from .client import UpstreamClient, UpstreamError
from .forms import BackfillForm, MappingForm, UpstreamForm
from .models import ERROR_MAX, ProjectMapping, PullRun, Upstream
from .pulling import create_run, pullable_projects, sync_mappings, windows

logger = logging.getLogger(__name__)

audit.register_actions(
    {
        "usage.upstream_changed": "Usage upstream changed",
        "usage.mapping_changed": "Usage project mapping changed",
        "usage.backfill_started": "Usage backfill started",
    }
)

CHECK_RESULT_MAX = 255  # Upstream.last_check_result
ERROR_EXCERPT = 90


def usage_tabs(request, current: str) -> list[dict]:
    """The tabs at the top of the usage pages: Usage | Data sync | Settings (Settings for usage managers)."""
    tabs = [("overview", "Usage", "usage:overview"), ("sync", "Data sync", "usage:sync")]
    if request.membership.can("usage", "manage"):
        tabs.append(("settings", "Settings", "usage:settings"))
    return [{"label": label, "url": reverse(name), "current": key == current} for key, label, name in tabs]


def _upstream(membership) -> Upstream | None:
    return restrict(Upstream, membership).first()


# Settings -----------------------------------------------------------------------------------------


@member_required("usage", "manage")
def upstream_settings(request):
    membership = request.membership
    upstream = _upstream(membership)
    form = UpstreamForm(form_data(request), upstream=upstream)
    if request.method == "POST" and form.is_valid():
        changed = form.changed_fields()
        if not changed:
            messages.info(request, "Nothing changed.")
            return redirect("usage:settings")
        data = form.cleaned_data
        if upstream is None:
            upstream = Upstream(organization=membership.organization)
        upstream.base_url = data["base_url"]
        upstream.customer_id = data["customer_id"]
        if data["customer_secret"]:
            upstream.customer_secret = data["customer_secret"]
        upstream.last_checked_at, upstream.last_check_result = None, ""  # the last test was of other settings
        upstream.updated_at = timezone.now()
        upstream.save()
        audit.record(
            "usage.upstream_changed",
            request=request,
            organization=membership.organization,
            target=upstream.base_url or "built-in upstream",
            changed=changed,  # names only: the secret's value never goes to the log
            base_url=upstream.base_url,
            customer_id=upstream.customer_id,
        )
        messages.success(request, "Upstream settings saved. Test the connection to check them.")
        return redirect("usage:settings")
    projects = restrict(Project, membership)
    mapped = restrict(ProjectMapping, membership)
    context = {
        "usage_tabs": usage_tabs(request, "settings"),
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


class _Listed:
    """The upstream's project list, fetched once, for sync_mappings (which asks a client for it)."""

    def __init__(self, projects: list[dict]):
        self._projects = projects

    def projects(self) -> list[dict]:
        return self._projects


def _describe(error: Exception) -> str:
    """A short reason for a failed connection test. The client's messages never quote the upstream."""
    if not isinstance(error, UpstreamError):
        return "The upstream could not be called."
    text = str(error)
    if " 401 " in f" {text} ":
        return f"{text} Check the Customer ID and Customer Secret."
    return text


@require_POST
@member_required("usage", "manage")
def test_connection(request):
    """GET /dev/v1/projects with the saved settings, then match console projects by App ID."""
    membership = request.membership
    back = "usage:mappings" if request.POST.get("next") == "mappings" else "usage:settings"
    upstream = _upstream(membership)
    if upstream is None:
        messages.error(request, "Save the upstream settings first.")
        return redirect("usage:settings")
    # A person is waiting: one retry at most, not the pipeline's full backoff.
    client = UpstreamClient.for_upstream(upstream, retries=min(settings.USAGE_HTTP_RETRIES, 1))
    try:
        listed = client.projects()
    except (UpstreamError, requests.RequestException) as error:
        reason = _describe(error)
        result = f"Failed: {reason}"
        messages.error(request, f"Connection failed. {reason}")
    else:
        matched = sync_mappings(upstream, _Listed(listed))
        visible = restrict(Project, membership)
        unmapped = visible.filter(usage_mapping__isnull=True).count()
        by_hand = restrict(ProjectMapping, membership).filter(matched_automatically=False).count()
        noun = "project" if len(listed) == 1 else "projects"
        result = f"Connected: {len(listed)} {noun} upstream; {matched} matched by App ID"
        details = [f"{matched} of your projects matched by App ID"]
        if by_hand:
            details.append(f"{by_hand} set by hand kept")
        if unmapped:
            details.append(f"{unmapped} without a match (set them on Project mappings)")
        messages.success(request, f"Connected: {len(listed)} {noun} upstream. " + "; ".join(details) + ".")
    upstream.last_checked_at = timezone.now()
    upstream.last_check_result = result[:CHECK_RESULT_MAX]
    upstream.save(update_fields=["last_checked_at", "last_check_result"])
    return redirect(back)


# Project mappings ---------------------------------------------------------------------------------


@member_required("usage", "manage")
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
        "usage_tabs": usage_tabs(request, "settings"),
        "form": form,
        "changelist": changelist,
        "editing": bool(initial),
        "unmapped_count": projects.filter(usage_mapping__isnull=True).count(),
    }
    return render(request, "usage/mappings.html", context)


def _save_mapping(request, project: Project, upstream_id: str | None) -> None:
    old = ProjectMapping.objects.filter(project=project).first()
    if upstream_id is None:
        if old is None:
            messages.info(request, f"{project.name} had no mapping.")
            return
        old.delete()
        messages.success(
            request,
            f"The mapping of {project.name} is removed. The next sync matches it by App ID again, if it can.",
        )
    else:
        if old is not None and old.upstream_project_id == upstream_id and not old.matched_automatically:
            messages.info(request, "Nothing changed.")
            return
        ProjectMapping.objects.update_or_create(
            project=project,
            defaults={
                "upstream_project_id": upstream_id,
                "matched_automatically": False,
                "updated_at": timezone.now(),
            },
        )
        messages.success(
            request, f"{project.name} now pulls its usage from upstream project {upstream_id} (set by hand)."
        )
    audit.record(
        "usage.mapping_changed",
        request=request,
        organization=project.organization,
        project=project,
        target=project.name,
        project_id=project.project_id,
        old=old.upstream_project_id if old else None,
        new=upstream_id,
    )


# Data sync ----------------------------------------------------------------------------------------


def _runs(membership):
    """The pull runs a member may see. A run may cover the whole organization (no project), so PullRun has no
    project_path; a member limited to selected projects sees the runs of those projects only."""
    runs = restrict(PullRun, membership)
    if not membership.role.all_projects:
        runs = runs.filter(project__in=restrict(Project, membership))
    return runs


@member_required("usage")
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
        if request.method == "POST" and form.is_valid():
            if upstream is None:
                form.add_error(None, "No usage upstream is configured: set one up under Settings first.")
            elif _start_backfill(request, form):
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
        "usage_tabs": usage_tabs(request, "sync"),
        "form": form,
        "can_manage": can_manage,
        "upstream": upstream,
        "changelist": changelist,
        "active_count": _runs(membership).filter(status__in=[PullRun.Status.QUEUED, PullRun.Status.RUNNING]).count(),
    }
    return render(request, "usage/sync.html", context)


def _start_backfill(request, form: BackfillForm) -> bool:
    """Create the run and queue it once the transaction commits. False (with a form error) for a duplicate."""
    membership = request.membership
    project, day_from, day_to = (form.cleaned_data[name] for name in ("project", "date_from", "date_to"))
    with transaction.atomic():
        active = _runs(membership).filter(
            status__in=[PullRun.Status.QUEUED, PullRun.Status.RUNNING],
            project=project,
            date_from=day_from,
            date_to=day_to,
        )
        if active.exists():
            form.add_error(None, "The same backfill is already queued or running; its progress is shown below.")
            return False
        run = create_run(
            membership.organization,
            day_from,
            day_to,
            trigger=PullRun.Trigger.CONSOLE,
            project=project,
            user=request.user,
        )
        audit.record(
            "usage.backfill_started",
            request=request,
            organization=membership.organization,
            project=project,
            target=project.name if project else "All enabled projects",
            run=run.pk,
            date_from=day_from.isoformat(),
            date_to=day_to.isoformat(),
        )
        transaction.on_commit(partial(_enqueue, request, run))
    chunks = len(windows(day_from, day_to))
    what = project.name if project else "all enabled projects"
    if PullRun.objects.filter(pk=run.pk, status=PullRun.Status.FAILED).exists():
        return True  # _enqueue said why
    messages.success(
        request,
        f"Backfill queued: {what}, {day_from.isoformat()} to {day_to.isoformat()} "
        f"({chunks} window{'s' if chunks != 1 else ''} of up to 31 days per project). Its progress is shown below.",
    )
    return True


def _enqueue(request, run: PullRun) -> None:
    try:
        tasks.execute_pull_run.delay(run.pk)
    except Exception as error:  # the broker is down: say so rather than leave a run queued forever
        logger.exception("Could not queue pull run %s", run.pk)
        PullRun.objects.filter(pk=run.pk, status=PullRun.Status.QUEUED).update(
            status=PullRun.Status.FAILED,
            error=f"Could not queue the backfill: {error}"[:ERROR_MAX],
            finished_at=timezone.now(),
        )
        messages.error(request, "The backfill could not be queued (the task queue is unavailable). Try again later.")


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
