import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from console.changelist import Changelist, Column, Filter
from console.csv_export import csv_download
from console.refusals import RuleViolation
from console.views import confirm_then_act, form_data, form_page

from . import audit, services, sso, two_factor
from .access import get_for_member, member_required, restrict
from .forms import (
    AcceptInvitationForm,
    InviteForm,
    LeaveOrganizationForm,
    MemberRoleForm,
    OrganizationForm,
    OrganizationSettingsForm,
    ProfileForm,
    RoleForm,
    SingleSignOnEntryForm,
    SingleSignOnForm,
)
from .middleware import SESSION_KEY
from .models import Invitation, Membership, Role, SingleSignOn
from .sudo import service_asks_password

MEMBERS_SECTION = ("Members & Roles", reverse_lazy("members"))

# Sign-in, sign-up and passwords -------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    form = ProfileForm(form_data(request), instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Your profile was saved.")
        return redirect("profile")
    intro = f"Signed in as {request.user.email}. To change your password, use Change password in the user menu."
    return form_page(request, form, title="Profile", submit_label="Save", intro=intro)


def not_offered(request, **kwargs):
    """allauth pages the console does not offer: the address book (the address is the sign-in and does not
    change) and allauth's own single-sign-on routes (accounts.sso has the console's, with its checks)."""
    raise Http404("This page is not offered here.")


@require_safe
def old_reset_link(request, uidb64, token):
    """Reset links mailed before the sign-in pages moved: they no longer work, so say so and offer a new one."""
    messages.info(request, "That password reset link has expired. Ask for a new one below.")
    return redirect("account_reset_password")


# Organizations ----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def create_organization(request):
    form = OrganizationForm(form_data(request))
    if request.method == "POST" and form.is_valid():
        organization = services.create_organization(request.user, form.cleaned_data["name"], request=request)
        request.session[SESSION_KEY] = organization.pk
        messages.success(request, f"{organization.name} was created. You are its owner and Admin.")
        return redirect("overview")
    intro = "" if request.membership else "You do not belong to any organization yet. Create one to get started."
    return form_page(
        request,
        form,
        title="New organization",
        submit_label="Create organization",
        intro=intro,
        cancel_url=reverse("overview") if request.membership else None,
    )


@login_required
@require_POST
def switch_organization(request):
    organization_id = request.POST.get("organization", "")
    if not organization_id.isdigit():
        raise Http404("No such organization.")
    membership = get_object_or_404(Membership, user=request.user, organization_id=organization_id)
    confined = sso.session_organization_id(request)
    if confined and confined != membership.organization_id:
        messages.error(
            request,
            "You signed in with your organization's single sign-on, which opens that organization only. "
            f"Sign out and sign in with your password to open {membership.organization.name}.",
        )
        return redirect("overview")
    request.session[SESSION_KEY] = membership.organization_id
    messages.info(request, f"Switched to {membership.organization.name}.")
    return redirect("overview")


@login_required
@require_http_methods(["GET", "POST"])
def leave_organization(request):
    membership = request.membership
    if membership is None:
        return redirect("overview")
    organization = membership.organization
    # The confirmation names the organization it was shown for: a second post, or one from a tab opened
    # before switching, must not leave whichever organization the session points to by then.
    form = LeaveOrganizationForm(form_data(request), initial={"organization": organization.pk})

    def leave():
        if form.cleaned_data["organization"] != organization.pk:
            raise RuleViolation("That confirmation was for another organization; nothing was changed.")
        services.leave_organization(membership, request=request)
        request.session.pop(SESSION_KEY, None)

    return confirm_then_act(
        request,
        act=leave,
        done=f"You left {organization.name}.",
        title=f"Leave {organization.name}?",
        message=f"You will lose access to {organization.name} at once.",
        consequences=["Your account stays, with your other organizations.", "An Admin can invite you again later."],
        action_label="Leave organization",
        cancel_url=reverse("overview"),
        form=form,
    )


@member_required("members", "edit")
@require_http_methods(["GET", "POST"])
def organization_settings(request):
    organization = request.membership.organization
    form = OrganizationSettingsForm(form_data(request), instance=organization)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.update_organization(
                request.membership, data["name"], require_two_factor=data["require_two_factor"], request=request
            )
        except RuleViolation as error:
            form.add_error("require_two_factor", str(error))
        else:
            messages.success(request, "Organization settings saved.")
            return redirect("organization_settings")
    return form_page(request, form, title="Organization settings", submit_label="Save")


@member_required("members", "edit")
@require_http_methods(["GET", "POST"])
def single_sign_on_settings(request):
    membership = request.membership
    config = SingleSignOn.objects.filter(organization=membership.organization).first()
    initial = {"joining": SingleSignOn.Joining.INVITATION, "enabled": True}
    if config is not None:
        initial = {
            "enabled": config.enabled,
            "issuer": config.issuer,
            "client_id": config.client_id,
            "allowed_domains": config.allowed_domains,
            "joining": config.joining,
            "default_role": config.default_role,
            "required": config.required,
        }
    form = SingleSignOnForm(form_data(request), initial=initial, actor=membership)
    if request.method == "POST" and form.is_valid():
        try:
            sso.save_settings(membership, **form.cleaned_data, request=request)
        except RuleViolation as error:
            form.add_error(error.field, str(error))
        else:
            messages.success(request, "Single sign-on settings saved.")
            return redirect("single_sign_on_settings")
    callback_url = request.build_absolute_uri(reverse("sso_callback", args=[f"org-{membership.organization_id}"]))
    context = {"form": form, "config": config, "callback_url": callback_url}
    return render(request, "accounts/single_sign_on.html", context)


@require_http_methods(["GET", "POST"])
def single_sign_on_entry(request):
    """Sign in with single sign-on: the work address names the organization, whose provider takes over."""
    form = SingleSignOnEntryForm(form_data(request))
    if request.method == "POST" and form.is_valid():
        config = sso.config_for_email(form.cleaned_data["email"])
        if config is None:
            form.add_error("email", "No organization signs in with single sign-on for this address's domain.")
        else:
            try:
                response = sso.login_view(request, config.provider_id)
            except requests.RequestException:
                form.add_error(
                    "email",
                    f"{config.organization.name}'s identity provider cannot be reached now. Try again later, "
                    "or sign in with your password.",
                )
            else:
                if response.status_code != 302:
                    return response
                # On to the provider from a page of ours: a redirect answering this form would fall under the
                # Content-Security-Policy's form-action, which names this console only.
                context = {"url": response["Location"], "organization": config.organization}
                return render(request, "accounts/single_sign_on_continue.html", context)
    return render(request, "accounts/single_sign_on_entry.html", {"form": form})


# Members ----------------------------------------------------------------------------------------


@member_required("members")
@require_safe
def member_list(request):
    membership = request.membership
    members = Changelist(
        request,
        restrict(Membership, membership)
        .select_related("user", "role")
        .annotate(two_factor=two_factor.has_second_factor_query("user_id")),
        columns=[
            Column("Member", "user__email"),
            Column("Role", "role__name"),
            Column("Two-factor", "two_factor"),
            Column("Joined", "created_at"),
            Column(""),
        ],
        row_template="accounts/rows/member.html",
        search_fields=("user__email", "user__name"),
        search_placeholder="Search by email or name",
        filters=[
            Filter("role", "Role", "role_id", [(str(r.pk), r.name) for r in restrict(Role, membership)]),
            Filter("two_factor", "Two-factor", "two_factor", [("1", "On"), ("0", "Off")]),
        ],
        default_ordering=("created_at",),
        empty_title="No members match",
    )
    context = {"changelist": members, "can_edit": membership.can("members", "edit"), "tab": "members"}
    return render(request, "accounts/members_section.html", context)


@member_required("members")
@require_safe
def invitation_list(request):
    membership = request.membership
    invitations = Changelist(
        request,
        restrict(Invitation, membership).select_related("role", "invited_by"),
        columns=[
            Column("Email", "email"),
            Column("Role", "role__name"),
            Column("Invited by"),
            Column("Sent", "sent_at"),
            Column("Expires", "expires_at"),
            Column("Status", "status"),
            Column(""),
        ],
        row_template="accounts/rows/invitation.html",
        search_fields=("email",),
        search_placeholder="Search by email",
        filters=[Filter("status", "Status", "status", Invitation.Status.choices)],
        default_ordering=("-sent_at",),
        empty_title="No invitations yet",
        empty_text="Invite a member; their invitation shows here until it is accepted.",
    )
    context = {"changelist": invitations, "can_edit": membership.can("members", "edit"), "tab": "invitations"}
    return render(request, "accounts/members_section.html", context)


@member_required("members", "edit")
@require_http_methods(["GET", "POST"])
def invite_member(request):
    form = InviteForm(form_data(request), actor=request.membership)
    if request.method == "POST" and form.is_valid():
        try:
            invitation = services.invite(
                request.membership, form.cleaned_data["email"], form.cleaned_data["role"], request=request
            )
        except RuleViolation as error:
            form.add_error(error.field, str(error))
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("invitations")
    return form_page(
        request,
        form,
        title="Invite a member",
        submit_label="Send invitation",
        cancel_url=reverse("invitations"),
        parent=MEMBERS_SECTION,
    )


@member_required("members", "edit")
@require_http_methods(["GET", "POST"])
def change_member_role(request, pk):
    member = get_for_member(request.membership, Membership.objects.select_related("user", "role"), pk=pk)
    form = MemberRoleForm(form_data(request), actor=request.membership, initial={"role": member.role})
    if request.method == "POST" and form.is_valid():
        try:
            services.change_member_role(request.membership, member, form.cleaned_data["role"], request=request)
        except RuleViolation as error:
            form.add_error(error.field, str(error))
        else:
            messages.success(request, f"{member.user.email} now has the role {form.cleaned_data['role'].name}.")
            return redirect("members")
    return form_page(
        request,
        form,
        title=f"Change the role of {member.user.email}",
        submit_label="Save",
        cancel_url=reverse("members"),
        parent=MEMBERS_SECTION,
    )


@member_required("members", "edit")
@require_http_methods(["GET", "POST"])
def remove_member(request, pk):
    member = get_for_member(request.membership, Membership.objects.select_related("user"), pk=pk)
    return confirm_then_act(
        request,
        act=lambda: services.remove_member(request.membership, member, request=request),
        done=f"{member.user.email} was removed from {member.organization.name}.",
        done_url=reverse("overview") if member.user_id == request.user.id else reverse("members"),
        title=f"Remove {member.user.email}?",
        message=f"{member.user.email} will lose access to {member.organization.name} at once.",
        consequences=["Their account stays; they can be invited again later."],
        action_label="Remove member",
        cancel_url=reverse("members"),
        parent=MEMBERS_SECTION,
    )


@member_required("members", "edit")
@require_http_methods(["GET", "POST"])
def make_owner(request, pk):
    """Hand the organization over to another Admin; the service holds the rules and asks for the password."""
    member = get_for_member(request.membership, Membership.objects.select_related("user", "role"), pk=pk)
    organization = request.membership.organization
    if not request.membership.is_owner:
        # A refusal, not a 403: an Admin who is not the owner, or the former owner's second click.
        messages.error(request, f"Only the owner of {organization.name} can hand over ownership.")
        return redirect("members")
    email = member.user.email
    return confirm_then_act(
        request,
        act=lambda: services.transfer_ownership(request.membership, member, request=request),
        done=f"{email} now owns {organization.name}; you stay an Admin.",
        asks_password=service_asks_password(services.transfer_ownership),
        title=f"Make {email} the owner of {organization.name}?",
        message=f"{email} becomes the owner of {organization.name}. You stay an Admin.",
        consequences=[
            f"Only {email} can hand over ownership from then on; you cannot take it back yourself.",
            f"{email} can then change your role or remove you from the organization.",
            "Only an Admin can become the owner, and only the owner can do this.",
        ],
        action_label="Make owner",
        cancel_url=reverse("members"),
        parent=MEMBERS_SECTION,
    )


@member_required("members", "edit")
@require_http_methods(["GET", "POST"])
def resend_invitation(request, pk):
    invitation = get_for_member(request.membership, Invitation, pk=pk)
    return _invitation_action(
        request,
        invitation,
        action=services.resend_invitation,
        done=f"A new invitation link was sent to {invitation.email}.",
        title=f"Resend the invitation to {invitation.email}?",
        message="A new link valid for 7 days is mailed; the previous link stops working.",
        label="Resend invitation",
        danger=False,
    )


@member_required("members", "edit")
@require_http_methods(["GET", "POST"])
def revoke_invitation(request, pk):
    invitation = get_for_member(request.membership, Invitation, pk=pk)
    return _invitation_action(
        request,
        invitation,
        action=services.revoke_invitation,
        done=f"The invitation to {invitation.email} was revoked.",
        title=f"Revoke the invitation to {invitation.email}?",
        message="The invitation link stops working at once.",
        label="Revoke invitation",
        danger=True,
    )


def _invitation_action(request, invitation, *, action, done, title, message, label, danger):
    return confirm_then_act(
        request,
        act=lambda: action(request.membership, invitation, request=request),
        done=done,
        title=title,
        message=message,
        action_label=label,
        cancel_url=reverse("invitations"),
        danger=danger,
        parent=MEMBERS_SECTION,
    )


@require_http_methods(["GET", "POST"])
def accept_invitation(request, token):
    """The link from the invitation mail: sign up, or join with the account already signed in."""
    invitation = services.find_invitation(token)
    context = {"invitation": invitation, "token": token}
    if invitation is None or not invitation.is_usable:
        return render(request, "accounts/invitation_invalid.html", context, status=404 if invitation is None else 410)
    if request.user.is_authenticated:
        return _accept_as_signed_in_user(request, token, invitation, context)
    if invitation.email_has_account:
        return render(request, "accounts/invitation_sign_in.html", context)
    form = AcceptInvitationForm(form_data(request), email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            membership = services.accept_invitation_as_new_user(
                token, name=form.cleaned_data["name"], password=form.cleaned_data["password1"], request=request
            )
        except RuleViolation as error:
            form.add_error(error.field, str(error))
        else:
            login(request, membership.user, backend=settings.AUTHENTICATION_BACKENDS[0])
            return _joined(request, membership)
    context["form"] = form
    return render(request, "accounts/invitation_accept.html", context)


def _accept_as_signed_in_user(request, token, invitation, context):
    if request.method == "POST":
        try:
            membership = services.accept_invitation(token, request.user, request=request)
        except RuleViolation as error:
            context["error"] = str(error)
            return render(request, "accounts/invitation_invalid.html", context, status=403)
        return _joined(request, membership)
    if request.user.email != invitation.email:
        context["error"] = (
            f"This invitation is for {invitation.email}, but you are signed in as {request.user.email}. "
            "Sign out and open the link again."
        )
        return render(request, "accounts/invitation_invalid.html", context, status=403)
    return render(request, "accounts/invitation_join.html", context)


def _joined(request, membership):
    request.session[SESSION_KEY] = membership.organization_id
    messages.success(request, f"You joined {membership.organization.name} as {membership.role.name}.")
    return redirect("overview")


# Roles ------------------------------------------------------------------------------------------


@member_required("members")
@require_safe
def role_list(request):
    roles = Changelist(
        request,
        restrict(Role, request.membership).prefetch_related("projects"),
        columns=[Column("Role", "name"), Column("Permissions"), Column("Data scope", "all_projects"), Column("")],
        row_template="accounts/rows/role.html",
        search_fields=("name", "description"),
        search_placeholder="Search roles",
        default_ordering=("-builtin_key", "name"),
        empty_title="No roles match",
    )
    context = {"changelist": roles, "can_edit": request.membership.can("members", "edit"), "tab": "roles"}
    return render(request, "accounts/members_section.html", context)


@member_required("members", "edit")
@require_http_methods(["GET", "POST"])
def create_role(request):
    return _role_form(request, None)


@member_required("members", "edit")
@require_http_methods(["GET", "POST"])
def edit_role(request, pk):
    role = get_for_member(request.membership, Role, pk=pk)
    if role.is_builtin:
        messages.error(request, "Built-in roles cannot be changed. Create a custom role instead.")
        return redirect("roles")
    return _role_form(request, role)


def _role_form(request, role):
    organization = request.membership.organization
    form = RoleForm(form_data(request), organization=organization, role=role)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        fields = dict(
            name=data["name"], levels=form.levels(), all_projects=data["all_projects"], projects=data["projects"]
        )
        try:
            if role is None:
                services.create_role(request.membership, request=request, **fields)
            else:
                services.update_role(request.membership, role, request=request, **fields)
        except RuleViolation as error:
            form.add_error(error.field, str(error))
        else:
            messages.success(request, f"Role {data['name']} saved.")
            return redirect("roles")
    title = "New role" if role is None else f"Edit role {role.name}"
    return render(request, "accounts/role_form.html", {"form": form, "title": title, "role": role})


@member_required("members", "edit")
@require_http_methods(["GET", "POST"])
def delete_role(request, pk):
    role = get_for_member(request.membership, Role, pk=pk)
    return confirm_then_act(
        request,
        act=lambda: services.delete_role(request.membership, role, request=request),
        done=f"Role {role.name} deleted.",
        title=f"Delete the role {role.name}?",
        message="The role is deleted for good.",
        consequences=["Roles that members or pending invitations use cannot be deleted."],
        action_label="Delete role",
        cancel_url=reverse("roles"),
        parent=MEMBERS_SECTION,
    )


# Audit log --------------------------------------------------------------------------------------


def audit_changelist(request):
    # Scoped to the member's projects first, so the page, its actor filter, search and CSV see the same rows.
    membership = request.membership
    entries = audit.entries_for(membership.organization, membership).select_related("actor")
    return Changelist(
        request,
        entries,
        columns=[
            Column("Time (UTC)", "created_at"),
            Column("Actor", "actor_email"),
            Column("Action", "action"),
            Column("Target", "target"),
            Column("IP address"),
            Column("Details"),
        ],
        row_template="accounts/rows/audit_entry.html",
        search_fields=("target", "actor_email", "action", "user_agent"),
        search_placeholder="Search actor, target, action",
        filters=[
            Filter("action", "Action", "action", sorted(audit.ACTIONS.items(), key=lambda item: item[1])),
            Filter("actor", "Actor", "actor_email", [(email, email) for email in audit.actor_emails(entries)]),
        ],
        date_field="created_at",
        default_ordering=("-created_at", "-id"),
        empty_title="No audit entries match",
        per_page=50,
    )


@member_required("audit")
@require_safe
def audit_log(request):
    changelist = audit_changelist(request)
    return render(request, "accounts/audit_log.html", {"changelist": changelist})


@member_required("audit")
@require_safe
def audit_log_csv(request):
    entries = audit_changelist(request).queryset
    header = ["time_utc", "actor", "action", "target", "ip_address", "user_agent", "details"]
    return csv_download("audit-log.csv", header, (audit.csv_row(entry) for entry in entries.iterator(chunk_size=500)))
