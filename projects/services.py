"""State changes for projects and their App Certificates.

Each function is one use case: it locks the project row, checks the rules, changes state in one
transaction, writes an audit entry and (for destructive certificate operations) mails the admins.
Pages, the APIs and commands call these; a refused action raises `RuleViolation` with a message for people.

Certificate operations take `expected_version`, the project's `certificates_version` when the person
looked at it. When someone else changed the certificates since, the operation is refused rather than
applied to a state the person has not seen. Pass None only from callers that act on current state (APIs).
"""

import ipaddress
from typing import Any

from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone

from accounts import audit
from accounts.models import Invitation, Membership, Organization, Role
from accounts.permissions import ADMIN
from accounts.sudo import asks_password
from console.refusals import RuleViolation
from console.text import one_line

from .models import Certificate, Project, new_certificate_value

# Registered with accounts.audit when the app starts (apps.py).
AUDIT_ACTIONS = {
    "project.created": "Project created",
    "role.scope_widened": "Role's data scope widened to a new project",
    "project.updated": "Project settings changed",
    "project.enabled": "Project enabled",
    "project.disabled": "Project disabled",
    "project.archived": "Project archived",
    "project.unarchived": "Project restored from the archive",
    "project.token_only": "Project switched to tokens only",
    "certificate.revealed": "Certificate revealed",
    "certificate.primary_enabled": "Primary certificate enabled",
    "certificate.primary_reset": "Primary certificate reset",
    "certificate.secondary_enabled": "Secondary certificate enabled",
    "certificate.secondary_disabled": "Secondary certificate disabled",
    "certificate.secondary_deleted": "Secondary certificate deleted",
    "certificate.swapped": "Certificates swapped",
    "project.recording_server": "Recording server changed",
}


# Projects ---------------------------------------------------------------------------------------


def _check_project_limit(organization: Organization) -> None:
    if Project.objects.filter(organization=organization).active().count() >= settings.PROJECT_LIMIT:
        raise RuleViolation(
            f"Your organization has reached its limit of {settings.PROJECT_LIMIT} active projects. "
            "Archive a project you no longer use, or ask for a higher limit."
        )


def _check_name_free(organization: Organization, name: str, exclude_pk: int | None = None) -> None:
    clash = Project.objects.filter(organization=organization, name__iexact=name)
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise RuleViolation(f"A project named {name!r} exists already in this organization.")


@transaction.atomic
def create_project(
    actor: Membership,
    *,
    name: str,
    use_case: str = Project.UseCase.OTHER,
    region: str = Project.Region.GLOBAL,
    mechanism: str = Project.Mechanism.SECURED,
    stage: str = Project.Stage.NOT_SPECIFIED,
    request: HttpRequest | None = None,
) -> Project:
    """A new project; Secured projects get an enabled primary certificate at once."""
    # Locking the organization serializes creations, so two at once cannot both pass the limit check.
    organization = Organization.objects.select_for_update().get(pk=actor.organization_id)
    _check_project_limit(organization)
    _check_name_free(organization, name)
    scoped_role = _scope_to_widen(actor)
    project = Project.objects.create(
        organization=organization, name=name, use_case=use_case, region=region, mechanism=mechanism, stage=stage
    )
    if scoped_role is not None:
        project.roles.add(scoped_role)
        audit.record(
            "role.scope_widened",
            actor=actor,
            request=request,
            organization=organization,
            project=project,
            target=scoped_role.name,
            project_name=project.name,
            project_id=project.project_id,
            reason="created by the role's only holder",
        )
    if mechanism == Project.Mechanism.SECURED:
        _new_certificate(project, Certificate.Slot.PRIMARY)
    audit.record(
        "project.created",
        actor=actor,
        request=request,
        organization=organization,
        project=project,
        target=project.name,
        project_id=project.project_id,
        mechanism=mechanism,
    )
    return project


def _scope_to_widen(actor: Membership) -> Role | None:
    """The role whose project scope a new project joins, so that its creator keeps seeing it: None for a role
    that sees every project. A role limited to selected projects widens only when the creator holds it alone;
    a role shared with others (or offered by a pending invitation) must not grow behind their back."""
    role = Role.objects.select_for_update().get(pk=actor.role_id)
    if role.all_projects:
        return None
    others = Membership.objects.filter(role=role).exclude(pk=actor.pk).count()
    invited = Invitation.objects.pending().filter(role=role).count()
    if others or invited:
        raise RuleViolation(
            f"Your role {role.name} sees selected projects only, and {others + invited} other member(s) or "
            "invitation(s) share it: a project you create would appear for them too. Ask an Admin to create "
            "the project, or to give you a role of your own."
        )
    return role


def _locked(project: Project) -> Project:
    """The project, row-locked for this transaction, with its certificates."""
    return Project.objects.select_for_update().prefetch_related("certificates").get(pk=project.pk)


def _lock_organization(project: Project) -> None:
    # Names and the project limit are per organization: changes to either take the organization's lock
    # first, in the same order as create_project, so two cannot both pass a check.
    Organization.objects.select_for_update().get(pk=project.organization_id)


def _touch(project: Project, *fields: str) -> None:
    project.updated_at = timezone.now()
    project.save(update_fields=[*fields, "updated_at"])


@transaction.atomic
def update_project(
    actor: Membership,
    project: Project,
    *,
    name: str,
    use_case: str,
    region: str,
    stage: str,
    request: HttpRequest | None = None,
) -> Project:
    _lock_organization(project)
    project = _locked(project)
    _check_name_free(project.organization, name, exclude_pk=project.pk)
    fields = {"name": name, "use_case": use_case, "region": region, "stage": stage}
    changes = {k: {"old": getattr(project, k), "new": v} for k, v in fields.items() if getattr(project, k) != v}
    for key, value in fields.items():
        setattr(project, key, value)
    _touch(project, *fields)
    if changes:
        audit.record(
            "project.updated",
            actor=actor,
            request=request,
            organization=project.organization,
            project=project,
            target=name,
            **changes,
        )
    return project


@transaction.atomic
def set_enabled(actor: Membership, project: Project, enabled: bool, *, request: HttpRequest | None = None) -> Project:
    project = _locked(project)
    if project.enabled != enabled:
        project.enabled = enabled
        _touch(project, "enabled")
        action = "project.enabled" if enabled else "project.disabled"
        audit.record_about_project(action, actor=actor, project=project, request=request)
    return project


@transaction.atomic
def set_archived(actor: Membership, project: Project, archived: bool, *, request: HttpRequest | None = None) -> Project:
    _lock_organization(project)
    project = _locked(project)
    if project.is_archived == archived:
        return project
    if not archived:
        _check_project_limit(project.organization)
    project.archived_at = timezone.now() if archived else None
    _touch(project, "archived_at")
    action = "project.archived" if archived else "project.unarchived"
    audit.record_about_project(action, actor=actor, project=project, request=request)
    return project


def check_can_issue_tokens(project: Project) -> None:
    """The one check before any token is built for a project (console, CLI and API)."""
    if project.organization.is_suspended:
        raise RuleViolation("The organization is suspended: settle the balance to issue tokens again.")
    if project.is_archived:
        raise RuleViolation("This project is archived: restore it to issue tokens.")
    if not project.enabled:
        raise RuleViolation("This project is disabled: enable it to issue tokens.")
    primary = project.primary
    if primary is None or not primary.enabled:
        raise RuleViolation("This project has no enabled primary certificate to sign tokens with.")


# Certificates -----------------------------------------------------------------------------------


def _new_certificate(project: Project, slot: str) -> Certificate:
    certificate = Certificate(project=project, slot=slot, enabled=True)
    certificate.set_value(new_certificate_value())
    certificate.save()
    return certificate


def _begin_certificate_change(project: Project, expected_version: int | None) -> Project:
    project = _locked(project)
    if expected_version is not None and project.certificates_version != expected_version:
        raise RuleViolation(
            "Someone changed this project's certificates while you were looking at it. "
            "Nothing was done: check the current state below and try again."
        )
    return project


def _finish_certificate_change(
    actor: Membership, project: Project, action: str, request: HttpRequest | None, *, notify: bool, **details: Any
) -> None:
    project.certificates_version += 1
    _touch(project, "certificates_version")
    audit.record_about_project(action, actor=actor, project=project, request=request, **details)
    if notify:
        actor_email = actor.user.email
        transaction.on_commit(lambda: _mail_admins(project, action, actor_email))


def _mail_admins(project: Project, action: str, actor_email: str) -> None:
    admins = Membership.objects.filter(organization=project.organization, role__builtin_key=ADMIN)
    recipients = list(admins.values_list("user__email", flat=True))
    label = audit.ACTIONS[action]
    body = render_to_string(
        "projects/email/certificate_changed.txt",
        {"project": project, "label": label, "actor": actor_email, "when": timezone.now()},
    )
    subject = one_line(f"[{project.organization.name}] {label}: {project.name}")
    send_mass_mail([(subject, body, None, [email]) for email in recipients], fail_silently=True)


def offered_certificate_operations(project: Project) -> dict[str, list[str]]:
    """The certificate operations the pages offer on each slot in the project's state, next to the services
    that enforce them: enable or reset the primary, require tokens once it is enabled; add or re-enable the
    secondary when the primary is enabled, swap or disable an enabled one, delete a disabled one."""
    primary, secondary = project.primary, project.secondary
    primary_enabled = primary is not None and primary.enabled
    on_primary = ["reset_primary" if primary_enabled else "enable_primary"]
    if primary_enabled and project.accepts_app_id_only:
        on_primary.append("require_tokens")
    on_secondary = []
    if primary_enabled and (secondary is None or not secondary.enabled):
        on_secondary.append("enable_secondary")
    if primary_enabled and secondary is not None and secondary.enabled:
        on_secondary += ["swap", "disable_secondary"]
    if secondary is not None and not secondary.enabled:
        on_secondary.append("delete_secondary")
    return {"primary": on_primary, "secondary": on_secondary}


def _certificate_or_refuse(certificate: Certificate | None, message: str) -> Certificate:
    """The certificate, or a RuleViolation with `message` when the slot is empty."""
    if certificate is None:
        raise RuleViolation(message)
    return certificate


@transaction.atomic
def reveal_certificate(actor: Membership, project: Project, slot: str, *, request: HttpRequest | None = None) -> str:
    """The certificate's value, for a person allowed to see it; every reveal is audited."""
    certificate = _certificate_or_refuse(project.certificate(slot), f"This project has no {slot} certificate.")
    audit.record_about_project(
        "certificate.revealed",
        actor=actor,
        project=project,
        request=request,
        slot=slot,
        fingerprint=certificate.fingerprint,
    )
    return certificate.value


@transaction.atomic
def enable_primary(
    actor: Membership, project: Project, *, expected_version: int | None = None, request: HttpRequest | None = None
) -> Certificate:
    """Give an App-ID-only project a primary certificate (or turn a disabled one back on)."""
    project = _begin_certificate_change(project, expected_version)
    primary = project.primary
    if primary is not None and primary.enabled:
        raise RuleViolation("The primary certificate is enabled already.")
    if primary is None:
        primary = _new_certificate(project, Certificate.Slot.PRIMARY)
    else:
        primary.enabled = True
        primary.save(update_fields=["enabled"])
    _finish_certificate_change(
        actor, project, "certificate.primary_enabled", request, notify=False, fingerprint=primary.fingerprint
    )
    return primary


@transaction.atomic
def enable_secondary(
    actor: Membership, project: Project, *, expected_version: int | None = None, request: HttpRequest | None = None
) -> Certificate:
    """Create a secondary certificate, or re-enable the disabled one."""
    project = _begin_certificate_change(project, expected_version)
    primary = project.primary
    if primary is None or not primary.enabled:
        raise RuleViolation("Enable the primary certificate before adding a secondary one.")
    secondary = project.secondary
    if secondary is not None and secondary.enabled:
        raise RuleViolation("The secondary certificate is enabled already.")
    if secondary is None:
        secondary = _new_certificate(project, Certificate.Slot.SECONDARY)
    else:
        secondary.enabled = True
        secondary.updated_at = timezone.now()
        secondary.save(update_fields=["enabled", "updated_at"])
    _finish_certificate_change(
        actor, project, "certificate.secondary_enabled", request, notify=False, fingerprint=secondary.fingerprint
    )
    return secondary


_CONTENT_FIELDS = ("value", "fingerprint", "value_created_at", "retired_at")


@asks_password
@transaction.atomic
def swap_certificates(
    actor: Membership, project: Project, *, expected_version: int | None = None, request: HttpRequest | None = None
) -> Project:
    """The secondary becomes the primary and the primary becomes the (enabled) secondary.

    Tokens signed with either keep working; new temp tokens are signed with the new primary.
    """
    project = _begin_certificate_change(project, expected_version)
    primary = _certificate_or_refuse(project.primary, "This project has no primary certificate.")
    secondary = _certificate_or_refuse(project.secondary, "Add and enable a secondary certificate before swapping.")
    if not secondary.enabled:
        raise RuleViolation("The secondary certificate is disabled: enable it before swapping.")
    old_primary = {name: getattr(primary, name) for name in _CONTENT_FIELDS}
    for name in _CONTENT_FIELDS:
        setattr(primary, name, getattr(secondary, name))
        setattr(secondary, name, old_primary[name])
    now = timezone.now()
    primary.retired_at = None
    secondary.retired_at = now  # the old primary, now on its way out
    primary.enabled = True
    primary.updated_at = secondary.updated_at = now
    Certificate.objects.bulk_update([primary, secondary], [*_CONTENT_FIELDS, "enabled", "updated_at"])
    project.last_rotation_at = now
    project.save(update_fields=["last_rotation_at"])
    _finish_certificate_change(
        actor,
        project,
        "certificate.swapped",
        request,
        notify=True,
        new_primary=primary.fingerprint,
        new_secondary=secondary.fingerprint,
    )
    return project


@asks_password
@transaction.atomic
def disable_secondary(
    actor: Membership, project: Project, *, expected_version: int | None = None, request: HttpRequest | None = None
) -> Certificate:
    project = _begin_certificate_change(project, expected_version)
    secondary = _certificate_or_refuse(project.secondary, "This project has no secondary certificate.")
    if not secondary.enabled:
        raise RuleViolation("The secondary certificate is disabled already.")
    secondary.enabled = False
    secondary.updated_at = timezone.now()
    secondary.save(update_fields=["enabled", "updated_at"])
    _finish_certificate_change(
        actor, project, "certificate.secondary_disabled", request, notify=True, fingerprint=secondary.fingerprint
    )
    return secondary


@asks_password
@transaction.atomic
def delete_secondary(
    actor: Membership, project: Project, *, expected_version: int | None = None, request: HttpRequest | None = None
) -> None:
    """Irreversible: tokens signed with the secondary certificate stop working for good."""
    project = _begin_certificate_change(project, expected_version)
    secondary = _certificate_or_refuse(project.secondary, "This project has no secondary certificate.")
    if secondary.enabled:
        raise RuleViolation("Only a disabled secondary certificate can be deleted: disable it first.")
    fingerprint = secondary.fingerprint
    secondary.delete()
    _finish_certificate_change(
        actor, project, "certificate.secondary_deleted", request, notify=True, fingerprint=fingerprint
    )


@asks_password
@transaction.atomic
def reset_primary(
    actor: Membership, project: Project, *, expected_version: int | None = None, request: HttpRequest | None = None
) -> Certificate:
    """A new primary value at once (REST `reset_signkey`); enables the primary if it was off.

    Unlike a rotation, tokens signed with the old primary stop working immediately.
    """
    project = _begin_certificate_change(project, expected_version)
    primary = project.primary
    old_fingerprint = primary.fingerprint if primary else None
    if primary is None:
        primary = _new_certificate(project, Certificate.Slot.PRIMARY)
    else:
        primary.set_value(new_certificate_value())
        primary.enabled = True
        primary.updated_at = timezone.now()
        primary.save()
    _finish_certificate_change(
        actor,
        project,
        "certificate.primary_reset",
        request,
        notify=True,
        old_fingerprint=old_fingerprint,
        new_fingerprint=primary.fingerprint,
    )
    return primary


@asks_password
@transaction.atomic
def require_tokens(
    actor: Membership, project: Project, *, expected_version: int | None = None, request: HttpRequest | None = None
) -> Project:
    """End App-ID-only access: from now on clients need a token ("delete No certificate")."""
    project = _begin_certificate_change(project, expected_version)
    if project.mechanism == Project.Mechanism.SECURED:
        raise RuleViolation("This project already requires tokens.")
    primary = project.primary
    if primary is None or not primary.enabled:
        raise RuleViolation("Enable the primary certificate first, and deploy token generation to your servers.")
    project.mechanism = Project.Mechanism.SECURED
    project.save(update_fields=["mechanism"])
    _finish_certificate_change(actor, project, "project.token_only", request, notify=True)
    return project


# Recording server (REST `recording_config`) -------------------------------------------------------


@transaction.atomic
def set_recording_server(
    actor: Membership, project: Project, address: str | None, *, request: HttpRequest | None = None
) -> Project:
    """Set where on-premise recording reaches the project: "ip:port" (IPv4, or IPv6 in brackets; port
    1-65535), stored in canonical form; None clears it."""
    if address is not None:
        host, colon, port = address.strip().rpartition(":")
        bracketed = host.startswith("[") and host.endswith("]")
        try:
            if not colon or not port.isascii() or not port.isdigit() or not 1 <= int(port) <= 65535:
                raise ValueError
            ip = ipaddress.ip_address(host[1:-1] if bracketed else host)
            if "%" in host or bracketed != (ip.version == 6):
                raise ValueError  # no zone ids; brackets exactly around IPv6 addresses
        except ValueError:
            raise RuleViolation(
                f"{address!r} is not an address and port: give ip:port, such as 203.0.113.7:8080 "
                "or [2001:db8::7]:8080 (port 1-65535)."
            ) from None
        address = f"[{ip.compressed}]:{int(port)}" if bracketed else f"{ip.compressed}:{int(port)}"
    project = _locked(project)
    if project.recording_server != address:
        old, project.recording_server = project.recording_server, address
        _touch(project, "recording_server")
        audit.record_about_project(
            "project.recording_server", actor=actor, project=project, request=request, old=old, new=address
        )
    return project
