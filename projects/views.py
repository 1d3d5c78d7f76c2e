from dataclasses import dataclass, field

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.access import get_for_member, member_required, restrict
from accounts.sudo import service_asks_password
from console.changelist import Changelist, Column, Filter
from console.navigation import project_tabs
from console.refusals import RuleViolation
from console.views import confirm_then_act, form_data, form_page

from . import services
from .forms import CertificateActionForm, ProjectCreateForm, ProjectEditForm
from .models import Certificate, Project
from .rotation import old_certificate_tokens, rotation_steps

PROJECTS_SECTION = ("Projects", reverse_lazy("projects:list"))


def _project(request, project_id) -> Project:
    queryset = Project.objects.select_related("organization").prefetch_related("certificates")
    return get_for_member(request.membership, queryset, project_id=project_id)


# Projects ---------------------------------------------------------------------------------------


@member_required("projects")
@require_safe
def project_list(request):
    membership = request.membership
    visible = restrict(Project, membership)
    archived = request.GET.get("tab") == "archived"
    changelist = Changelist(
        request,
        (visible.archived() if archived else visible.active()).prefetch_related("certificates"),
        columns=[
            Column("Name", "name"),
            Column("Updated", "updated_at"),
            Column("Created", "created_at"),
            Column("Security", "mechanism"),
            Column("App ID"),
            Column("Status", "enabled"),
            Column("Stage", "stage"),
        ],
        row_template="projects/rows/project.html",
        search_fields=("name", "app_id", "project_id"),
        search_placeholder="Search name, App ID or project ID",
        filters=[
            Filter("status", "Status", "enabled", [("1", "Enabled"), ("0", "Disabled")]),
            Filter("stage", "Stage", "stage", Project.Stage.choices),
            Filter("security", "Security", "mechanism", Project.Mechanism.choices),
        ],
        default_ordering=("-created_at",),
        empty_title="No archived projects" if archived else "No projects yet",
        empty_text="Archive a project you no longer use from its page; it can be restored here."
        if archived
        else "Create a project to get an App ID for your app.",
    )
    context = {
        "changelist": changelist,
        "archived_tab": archived,
        "active_count": visible.active().count(),
        "archived_count": visible.archived().count(),
        "can_edit": membership.can("projects", "edit"),
    }
    return render(request, "projects/list.html", context)


@member_required("projects", "edit")
@require_http_methods(["GET", "POST"])
def create_project(request):
    form = ProjectCreateForm(form_data(request))
    if request.method == "POST" and form.is_valid():
        try:
            project = services.create_project(request.membership, request=request, **form.cleaned_data)
        except RuleViolation as error:
            form.add_error(error.field, str(error))
        else:
            messages.success(request, f"Project {project.name} created. Its App ID is ready to use.")
            return redirect("projects:detail", project.project_id)
    return form_page(
        request,
        form,
        title="Create a project",
        submit_label="Create project",
        cancel_url=reverse("projects:list"),
        parent=PROJECTS_SECTION,
    )


@member_required("projects")
@require_safe
def project_detail(request, project_id):
    return _render_detail(request, _project(request, project_id))


SLOT_ACTION_LABELS = {
    "enable_primary": "Enable",
    "reset_primary": "Reset",
    "require_tokens": "Require tokens",
    "swap": "Swap with primary",
    "disable_secondary": "Disable",
    "delete_secondary": "Delete",
}


def certificate_slots(project: Project, revealed: dict[str, str]) -> list[dict]:
    """Each slot with its certificate, a revealed value if any, and the operations its state allows."""
    primary, secondary = project.primary, project.secondary
    offered = services.offered_certificate_operations(project)
    labels = {**SLOT_ACTION_LABELS, "enable_secondary": "Enable" if secondary else "Add secondary"}
    primary_actions = [(operation, labels[operation]) for operation in offered["primary"]]
    secondary_actions = [(operation, labels[operation]) for operation in offered["secondary"]]
    return [
        {"name": "primary", "certificate": primary, "revealed": revealed.get("primary"), "actions": primary_actions},
        {
            "name": "secondary",
            "certificate": secondary,
            "revealed": revealed.get("secondary"),
            "actions": secondary_actions,
        },
    ]


def _render_detail(request, project, revealed=None):
    membership = request.membership
    context = {
        "project": project,
        "slots": certificate_slots(project, revealed or {}),
        "can_edit": membership.can("projects", "edit"),
        "can_view_certificates": membership.can("certificates", "view"),
        "can_manage_certificates": membership.can("certificates", "manage"),
        "rotation_summary": rotation_steps(project)[1],
        "project_tabs": project_tabs(request, project, "settings"),
    }
    response = render(request, "projects/detail.html", context)
    response["Cache-Control"] = "no-store"  # the page may hold a revealed certificate
    return response


@member_required("projects", "edit")
@require_http_methods(["GET", "POST"])
def edit_project(request, project_id):
    project = _project(request, project_id)
    form = ProjectEditForm(form_data(request), instance=project)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_project(request.membership, project, request=request, **form.cleaned_data)
        except RuleViolation as error:
            form.add_error(error.field, str(error))
        else:
            messages.success(request, "Project settings saved.")
            return redirect("projects:detail", project.project_id)
    project.refresh_from_db()  # the form wrote the submitted values onto the instance
    return form_page(
        request,
        form,
        title=f"Edit {project.name}",
        submit_label="Save",
        cancel_url=reverse("projects:detail", args=[project.project_id]),
        parent=PROJECTS_SECTION,
    )


@dataclass(frozen=True)
class ProjectAction:
    title: str
    message: str
    label: str
    apply: object
    done: str
    consequences: list[str] = field(default_factory=list)
    danger: bool = True


PROJECT_ACTIONS = {
    "disable": ProjectAction(
        "Disable {name}?",
        "The project stays, but no token can be issued for it until it is enabled again.",
        "Disable project",
        lambda m, p, r: services.set_enabled(m, p, False, request=r),
        "{name} is disabled.",
        ["Clients of this project can no longer join channels with new tokens."],
    ),
    "enable": ProjectAction(
        "Enable {name}?",
        "Tokens can be issued for the project again.",
        "Enable project",
        lambda m, p, r: services.set_enabled(m, p, True, request=r),
        "{name} is enabled.",
        danger=False,
    ),
    "archive": ProjectAction(
        "Archive {name}?",
        "The project moves to the Archived tab and no token can be issued for it.",
        "Archive project",
        lambda m, p, r: services.set_archived(m, p, True, request=r),
        "{name} is archived.",
        ["You can restore it from the Archived tab at any time."],
    ),
    "unarchive": ProjectAction(
        "Restore {name}?",
        "The project moves back to the Active tab.",
        "Restore project",
        lambda m, p, r: services.set_archived(m, p, False, request=r),
        "{name} is active again.",
        danger=False,
    ),
}


@member_required("projects", "edit")
@require_http_methods(["GET", "POST"])
def project_action(request, project_id, action):
    spec = PROJECT_ACTIONS.get(action)
    if spec is None:
        raise Http404("No such action.")
    project = _project(request, project_id)
    detail_url = reverse("projects:detail", args=[project.project_id])
    return confirm_then_act(
        request,
        act=lambda: spec.apply(request.membership, project, request),
        done=spec.done.format(name=project.name),
        title=spec.title.format(name=project.name),
        message=spec.message,
        action_label=spec.label,
        consequences=spec.consequences,
        cancel_url=detail_url,
        danger=spec.danger,
        parent=PROJECTS_SECTION,
    )


# Certificates -----------------------------------------------------------------------------------


@require_POST
@member_required("certificates", "view")
def reveal_certificate(request, project_id, slot):
    project = _project(request, project_id)
    if slot not in Certificate.Slot.values:
        raise Http404("No such certificate slot.")
    try:
        value = services.reveal_certificate(request.membership, project, slot, request=request)
    except RuleViolation as error:
        messages.error(request, str(error))
        return redirect("projects:detail", project.project_id)
    if request.POST.get("next") == "rotation" and request.membership.can("certificates", "manage"):
        return _render_rotation(request, project, revealed={slot: value})
    return _render_detail(request, project, revealed={slot: value})


@dataclass(frozen=True)
class CertificateOperation:
    title: str
    message: str
    label: str
    service: object
    consequences: list[str] = field(default_factory=list)
    danger: bool = True  # red styling: something stops working
    slot: str | None = None  # the certificate acted on, named by its fingerprint on the page
    done: str = "Done."


CERTIFICATE_OPERATIONS = {
    "enable_primary": CertificateOperation(
        "Enable the primary certificate of {name}?",
        "A primary App Certificate is created. Your servers can then sign tokens with it.",
        "Enable primary certificate",
        services.enable_primary,
        ["Clients that join with the App ID only keep working until you require tokens."],
        done="The primary certificate is enabled.",
    ),
    "enable_secondary": CertificateOperation(
        "Enable a secondary certificate for {name}?",
        "Tokens signed with either certificate are accepted. This is step 1 of a rotation.",
        "Enable secondary certificate",
        services.enable_secondary,
        done="The secondary certificate is enabled.",
    ),
    "swap": CertificateOperation(
        "Swap the certificates of {name}?",
        "The secondary certificate becomes the primary, and the primary becomes the secondary. Both stay valid.",
        "Swap certificates",
        services.swap_certificates,
        [
            "Temp tokens from the console are signed with the new primary from now on.",
            "Servers still using the old primary keep working while it stays enabled as the secondary.",
        ],
        danger=False,
        slot="secondary",
        done="Certificates swapped. Once no server uses the old one, disable and delete it.",
    ),
    "disable_secondary": CertificateOperation(
        "Disable the secondary certificate of {name}?",
        "The secondary certificate is kept, but no longer accepted.",
        "Disable secondary certificate",
        services.disable_secondary,
        [
            "Tokens signed with this certificate stop working at once.",
            "You can enable it again, or delete it for good.",
        ],
        slot="secondary",
        done="The secondary certificate is disabled.",
    ),
    "delete_secondary": CertificateOperation(
        "Delete the secondary certificate of {name}?",
        "The disabled secondary certificate is deleted. This cannot be undone.",
        "Delete secondary certificate",
        services.delete_secondary,
        ["Tokens signed with this certificate can never work again.", "There is no way to recover it."],
        slot="secondary",
        done="The secondary certificate is deleted.",
    ),
    "reset_primary": CertificateOperation(
        "Reset the primary certificate of {name}?",
        "The primary certificate gets a new value immediately. Prefer a rotation (secondary, swap) to avoid downtime.",
        "Reset primary certificate",
        services.reset_primary,
        [
            "Tokens signed with the current primary certificate stop working at once.",
            "Every server that generates tokens needs the new value.",
        ],
        slot="primary",
        done="The primary certificate has a new value.",
    ),
    "require_tokens": CertificateOperation(
        "Require tokens for {name}?",
        'Clients can no longer join with the App ID alone ("No certificate" is removed).',
        "Require tokens",
        services.require_tokens,
        [
            "Clients that join without a token are refused from now on.",
            "Make sure every client gets tokens from your servers first.",
        ],
        done="The project now requires tokens.",
    ),
}


@member_required("certificates", "manage")
@require_http_methods(["GET", "POST"])
def certificate_operation(request, project_id, operation):
    spec = CERTIFICATE_OPERATIONS.get(operation)
    if spec is None:
        raise Http404("No such certificate operation.")
    project = _project(request, project_id)
    detail_url = reverse("projects:detail", args=[project.project_id])
    # The version the person saw on the page that linked here, so a change in between is caught too.
    seen = request.GET.get("version", "")
    initial = {"version": int(seen) if seen.isdigit() else project.certificates_version}
    form = CertificateActionForm(form_data(request), initial=initial)
    from_rotation = request.POST.get("next", request.GET.get("next")) == "rotation"
    back_url = reverse("projects:rotation", args=[project.project_id]) if from_rotation else detail_url
    finishes_rotation = operation == "delete_secondary" and project.secondary and project.secondary.retired_at
    return confirm_then_act(
        request,
        act=lambda: spec.service(
            request.membership, project, expected_version=form.cleaned_data["version"], request=request
        ),
        done="Rotation complete: the old certificate is gone." if finishes_rotation else spec.done,
        asks_password=service_asks_password(spec.service),
        title=_operation_title(spec, project),
        message=spec.message,
        action_label=spec.label,
        consequences=_operation_consequences(spec, operation, project),
        cancel_url=back_url,
        danger=spec.danger,
        parent=(project.name, detail_url),
        form=form,
        next_page="rotation" if from_rotation else "",
    )


def _operation_title(spec: CertificateOperation, project: Project) -> str:
    title = spec.title.format(name=project.name)
    certificate = project.certificate(spec.slot) if spec.slot else None
    if certificate is None:
        return title
    old = ", the old primary" if certificate.retired_at else ""
    return f"{title.rstrip('?')} (fingerprint {certificate.fingerprint}{old})?"


def _operation_consequences(spec: CertificateOperation, operation: str, project: Project) -> list[str]:
    consequences = list(spec.consequences)
    secondary = project.secondary
    if operation == "disable_secondary" and secondary is not None and secondary.retired_at:
        consequences[:0] = old_certificate_tokens(project, secondary)
    return consequences


@member_required("certificates", "manage")
@require_safe
def rotation(request, project_id):
    return _render_rotation(request, _project(request, project_id))


def _render_rotation(request, project, revealed=None):
    steps, summary = rotation_steps(project)
    context = {
        "project": project,
        "steps": steps,
        "summary": summary,
        "slots": certificate_slots(project, revealed or {}),
        "can_view_certificates": True,
        "can_manage_certificates": False,  # the steps offer the actions here
        "on_rotation_page": True,
    }
    response = render(request, "projects/rotation.html", context)
    response["Cache-Control"] = "no-store"
    return response
