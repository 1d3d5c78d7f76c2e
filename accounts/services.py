"""State changes for accounts, organizations, roles, members and invitations.

One function per use case; each runs in one transaction and writes its audit entry. Pages, the API and
commands call these; views only parse input and render. Rule violations raise `RuleViolation` with a
message meant for the person who tried.
"""

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from console.refusals import RuleViolation
from console.text import one_line

from . import audit
from .models import Invitation, Membership, Organization, Role, User, hash_token
from .permissions import ADMIN, BUILTIN_ROLES, MODULES
from .sudo import asks_password

# Organizations ----------------------------------------------------------------------------------


def unique_org_slug(name: str) -> str:
    base = slugify(name)[:50] or "org"
    slug, n = base, 1
    while Organization.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def ensure_builtin_roles(organization: Organization) -> dict[str, Role]:
    """Create any missing built-in role and bring existing ones to their declared levels."""
    roles = {}
    for builtin in BUILTIN_ROLES:
        role, _ = Role.objects.update_or_create(
            organization=organization,
            builtin_key=builtin.key,
            defaults={
                "name": builtin.name,
                "description": builtin.description,
                "levels": builtin.levels,
                "all_projects": True,
            },
        )
        roles[builtin.key] = role
    return roles


@transaction.atomic
def create_organization(owner: User, name: str, *, request: HttpRequest | None = None) -> Organization:
    """A new organization with its built-in roles and `owner` as its first Admin."""
    organization = Organization.objects.create(name=name, slug=unique_org_slug(name), owner=owner)
    roles = ensure_builtin_roles(organization)
    Membership.objects.create(user=owner, organization=organization, role=roles[ADMIN])
    audit.record("org.created", request=request, actor=owner, organization=organization, target=name)
    return organization


def _new_user(email: str, password_hash: str, name: str) -> User:
    user = User.objects.create(email=User.objects.normalize_email(email), password=password_hash, name=name)
    User.objects.vouch_for_address(user)  # the invitation reached this address
    return user


@transaction.atomic
def update_organization(
    actor: Membership, name: str, *, require_two_factor: bool | None = None, request: HttpRequest | None = None
) -> Organization:
    """Rename the organization and, when given, turn its two-factor requirement on or off."""
    from .two_factor import has_second_factor

    actor = _current_actor(actor)
    organization = Organization.objects.select_for_update().get(pk=actor.organization_id)
    changes: dict[str, dict[str, object]] = {}
    if name != organization.name:
        changes["name"] = {"old": organization.name, "new": name}
    if require_two_factor is not None and require_two_factor != organization.require_two_factor:
        if require_two_factor and not has_second_factor(actor.user):
            raise RuleViolation(
                "Set up two-factor authentication for yourself first, so that requiring it does not lock you out."
            )
        changes["require_two_factor"] = {"old": organization.require_two_factor, "new": require_two_factor}
    if not changes:
        return organization
    for field, change in changes.items():
        setattr(organization, field, change["new"])
    organization.save(update_fields=list(changes))
    audit.record(
        "org.updated", actor=actor, request=request, organization=organization, target=organization.name, **changes
    )
    return organization


# Roles ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GrantPower:
    """What a member may hand out, read once before anything changes: a role edited in the same
    transaction (their own, say) must be judged against the power they had, not the power it gives them."""

    levels: dict[str, int]  # module key -> rank
    all_projects: bool
    project_ids: frozenset[int]

    @classmethod
    def of(cls, role: Role) -> "GrantPower":
        project_ids = frozenset() if role.all_projects else frozenset(role.projects.values_list("pk", flat=True))
        return cls({m.key: role.rank(m.key) for m in MODULES}, role.all_projects, project_ids)

    def covers(self, levels: dict[str, int], all_projects: bool, project_ids: Iterable[int]) -> bool:
        if any(rank > self.levels[key] for key, rank in levels.items()):
            return False
        if self.all_projects:
            return True
        return not all_projects and set(project_ids) <= self.project_ids


def can_grant(actor: Membership, role: Role) -> bool:
    """Nobody can hand out more than they hold: every level, and the project scope."""
    return _grants(GrantPower.of(actor.role), role)


def _grants(power: GrantPower, role: Role, project_ids: Iterable[int] | None = None) -> bool:
    if project_ids is None:
        project_ids = () if role.all_projects else role.projects.values_list("pk", flat=True)
    return power.covers({m.key: role.rank(m.key) for m in MODULES}, role.all_projects, project_ids)


def _current_actor(actor: Membership) -> Membership:
    """The actor's membership as it is now: their role may have changed since their page loaded."""
    fresh = Membership.objects.select_related("role", "organization", "user").filter(pk=actor.pk).first()
    if fresh is None or not fresh.can("members", "edit"):
        raise RuleViolation("Your role no longer allows managing members and roles.")
    return fresh


def _check_grantable(
    actor: Membership, role: Role, power: GrantPower | None = None, project_ids: Iterable[int] | None = None
) -> None:
    if not _grants(power or GrantPower.of(actor.role), role, project_ids):
        raise RuleViolation(f"You cannot grant the role {role.name}: it holds more than your own role.")


def _set_role_fields(
    role: Role, name: str, levels: dict[str, str], all_projects: bool, projects: Iterable[Any]
) -> None:
    role.name = name
    role.levels = {key: level for key, level in levels.items() if level != "none"}
    role.all_projects = all_projects
    role.full_clean()
    role.save()
    role.projects.set([] if all_projects else projects)


def _project_ids(all_projects: bool, projects: Iterable[Any]) -> list[int]:
    return [] if all_projects else [getattr(project, "pk", project) for project in projects]


@transaction.atomic
def create_role(
    actor: Membership,
    *,
    name: str,
    levels: dict[str, str],
    all_projects: bool = True,
    projects: Iterable[Any] = (),
    request: HttpRequest | None = None,
) -> Role:
    actor = _current_actor(actor)
    power = GrantPower.of(actor.role)
    role = Role(organization=actor.organization)
    _set_role_fields(role, name, levels, all_projects, projects)
    _check_grantable(actor, role, power, _project_ids(all_projects, projects))
    audit.record(
        "role.created", actor=actor, request=request, organization=actor.organization, target=name, levels=role.levels
    )
    return role


@transaction.atomic
def update_role(
    actor: Membership,
    role: Role,
    *,
    name: str,
    levels: dict[str, str],
    all_projects: bool = True,
    projects: Iterable[Any] = (),
    request: HttpRequest | None = None,
) -> Role:
    role = Role.objects.select_for_update().get(pk=role.pk)
    actor = _current_actor(actor)
    if role.is_builtin:
        raise RuleViolation("Built-in roles cannot be changed.")
    power = GrantPower.of(actor.role)  # before the change: the role edited may be the actor's own
    _check_grantable(actor, role, power)
    old_project_ids = sorted(role.projects.values_list("pk", flat=True))
    old = {"name": role.name, "levels": role.levels, "all_projects": role.all_projects, "projects": old_project_ids}
    new_project_ids = sorted(_project_ids(all_projects, projects))
    new_levels = {key: level for key, level in levels.items() if level != "none"}
    if role.pk == actor.role_id and (
        new_levels != role.levels or all_projects != role.all_projects or new_project_ids != old_project_ids
    ):
        raise RuleViolation(
            f"You hold the role {role.name}: you cannot change its permissions or data scope. "
            "Ask an Admin, or another member who may manage roles, to change it."
        )
    _set_role_fields(role, name, levels, all_projects, projects)
    _check_grantable(actor, role, power, new_project_ids)
    new = {"name": role.name, "levels": role.levels, "all_projects": role.all_projects, "projects": new_project_ids}
    audit.record(
        "role.updated", actor=actor, request=request, organization=actor.organization, target=name, old=old, new=new
    )
    return role


@transaction.atomic
def delete_role(actor: Membership, role: Role, *, request: HttpRequest | None = None) -> None:
    role = Role.objects.select_for_update().get(pk=role.pk)
    actor = _current_actor(actor)
    if role.is_builtin:
        raise RuleViolation("Built-in roles cannot be deleted.")
    if role.memberships.exists() or role.invitations.filter(status=Invitation.Status.PENDING).exists():
        raise RuleViolation(f"The role {role.name} is in use by members or pending invitations; reassign them first.")
    role.invitations.all().delete()
    name = role.name
    role.delete()
    audit.record("role.deleted", actor=actor, request=request, organization=actor.organization, target=name)


# Members ----------------------------------------------------------------------------------------


def _admin_count(organization_id: int) -> int:
    return Membership.objects.filter(organization_id=organization_id, role__builtin_key=ADMIN).count()


@transaction.atomic
def change_member_role(
    actor: Membership, member: Membership, role: Role, *, request: HttpRequest | None = None
) -> Membership:
    # Lock the organization's memberships so two demotions cannot both pass the last-admin check.
    list(Membership.objects.select_for_update().filter(organization_id=member.organization_id))
    actor = _current_actor(actor)
    member = Membership.objects.select_related("role", "user").get(pk=member.pk)
    if role.organization_id != member.organization_id:
        raise RuleViolation("That role belongs to another organization.")
    _check_grantable(actor, role)
    _check_grantable(actor, member.role)
    is_demotion = member.role.builtin_key == ADMIN and role.builtin_key != ADMIN
    if is_demotion and _admin_count(member.organization_id) <= 1:
        raise RuleViolation("The organization needs at least one Admin; make someone else Admin first.")
    if is_demotion and member.is_owner:
        raise RuleViolation(
            f"{member.user.email} owns the organization and keeps the Admin role. The owner can hand over "
            "ownership to another Admin (Make owner on the Members page); then this role can change."
        )
    old_role = member.role.name
    member.role = role
    member.save(update_fields=["role"])
    audit.record(
        "member.role_changed",
        actor=actor,
        request=request,
        organization=member.organization,
        target=member.user.email,
        old_role=old_role,
        new_role=role.name,
    )
    return member


@asks_password
@transaction.atomic
def transfer_ownership(actor: Membership, member: Membership, *, request: HttpRequest | None = None) -> Organization:
    """Make another Admin the owner. Only the owner can; the former owner stays an Admin."""
    organization = Organization.objects.select_for_update().get(pk=actor.organization_id)
    current = Membership.objects.select_related("role", "user").filter(pk=member.pk).first()
    if organization.owner_id != actor.user_id:
        raise RuleViolation("Only the owner of the organization can hand over ownership.")
    if current is None or current.organization_id != organization.pk:
        raise RuleViolation("That person is not a member of this organization.")
    member = current  # as it is now, under the lock
    if member.user_id == actor.user_id:
        raise RuleViolation("You own this organization already.")
    if member.role.builtin_key != ADMIN:
        raise RuleViolation(f"Make {member.user.email} an Admin first: the owner is always an Admin.")
    old_owner = actor.user.email
    organization.owner = member.user
    organization.save(update_fields=["owner"])
    audit.record(
        "org.ownership_transferred",
        request=request,
        actor=actor.user,
        organization=organization,
        target=member.user.email,
        old_owner=old_owner,
    )
    return organization


@transaction.atomic
def remove_member(actor: Membership, member: Membership, *, request: HttpRequest | None = None) -> None:
    list(Membership.objects.select_for_update().filter(organization_id=member.organization_id))
    actor = _current_actor(actor)
    member = Membership.objects.select_related("role", "user", "organization").get(pk=member.pk)
    if member.is_owner:
        raise RuleViolation("The owner of the organization cannot be removed.")
    _check_grantable(actor, member.role)
    if member.role.builtin_key == ADMIN and _admin_count(member.organization_id) <= 1:
        raise RuleViolation("The organization needs at least one Admin; make someone else Admin first.")
    email = member.user.email
    member.delete()
    audit.record("member.removed", actor=actor, request=request, organization=member.organization, target=email)


@transaction.atomic
def leave_organization(member: Membership, *, request: HttpRequest | None = None) -> None:
    """A member leaves an organization of their own accord; any role may."""
    list(Membership.objects.select_for_update().filter(organization_id=member.organization_id))
    current = Membership.objects.select_related("role", "user", "organization").filter(pk=member.pk).first()
    if current is None:
        raise RuleViolation("You are no longer a member of this organization.")
    member = current
    if member.is_owner:
        raise RuleViolation("The owner cannot leave the organization; hand over ownership first.")
    if member.role.builtin_key == ADMIN and _admin_count(member.organization_id) <= 1:
        raise RuleViolation("You are the organization's last Admin; make someone else Admin first.")
    member.delete()
    audit.record(
        "member.left", request=request, actor=member.user, organization=member.organization, target=member.user.email
    )


# Invitations ------------------------------------------------------------------------------------


def _new_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def _send_invitation_mail(invitation: Invitation, token: str, request: HttpRequest | None = None) -> None:
    path = reverse("accept_invitation", args=[token])
    link = request.build_absolute_uri(path) if request is not None else path
    context = {"invitation": invitation, "link": link, "validity_days": settings.INVITATION_VALIDITY.days}
    send_mail(
        subject=one_line(f"You are invited to {invitation.organization.name} on Console"),
        message=render_to_string("accounts/email/invitation.txt", context),
        from_email=None,
        recipient_list=[invitation.email],
    )


@transaction.atomic
def invite(actor: Membership, email: str, role: Role, *, request: HttpRequest | None = None) -> Invitation:
    actor = _current_actor(actor)
    email = User.objects.normalize_email(email)
    organization = actor.organization
    if role.organization_id != organization.pk:
        raise RuleViolation("That role belongs to another organization.")
    _check_grantable(actor, role)
    if Membership.objects.filter(organization=organization, user__email=email).exists():
        raise RuleViolation(f"{email} is already a member of {organization.name}.")
    if Invitation.objects.pending().filter(organization=organization, email=email).exists():
        raise RuleViolation(f"{email} already has a pending invitation; resend it instead.")
    token, token_hash = _new_token()
    now = timezone.now()
    invitation = Invitation.objects.create(
        organization=organization,
        email=email,
        role=role,
        invited_by=actor.user,
        token_hash=token_hash,
        created_at=now,
        sent_at=now,
        expires_at=now + settings.INVITATION_VALIDITY,
    )
    _send_invitation_mail(invitation, token, request)
    audit.record(
        "invitation.sent", actor=actor, request=request, organization=organization, target=email, role=role.name
    )
    return invitation


@transaction.atomic
def resend_invitation(actor: Membership, invitation: Invitation, *, request: HttpRequest | None = None) -> Invitation:
    """A fresh link with a fresh 7-day validity; the previous link stops working."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    actor = _current_actor(actor)
    if invitation.status not in (Invitation.Status.PENDING, Invitation.Status.EXPIRED):
        raise RuleViolation(f"This invitation was {invitation.get_status_display().lower()} and cannot be resent.")
    _check_grantable(actor, invitation.role)
    token, invitation.token_hash = _new_token()
    invitation.sent_at = timezone.now()
    invitation.expires_at = invitation.sent_at + settings.INVITATION_VALIDITY
    invitation.status = Invitation.Status.PENDING
    invitation.save()
    _send_invitation_mail(invitation, token, request)
    audit.record(
        "invitation.resent", actor=actor, request=request, organization=invitation.organization, target=invitation.email
    )
    return invitation


@transaction.atomic
def revoke_invitation(actor: Membership, invitation: Invitation, *, request: HttpRequest | None = None) -> Invitation:
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    _current_actor(actor)
    if invitation.status == Invitation.Status.ACCEPTED:
        raise RuleViolation("This invitation was already accepted; remove the member instead.")
    invitation.status = Invitation.Status.REVOKED
    invitation.save(update_fields=["status"])
    audit.record(
        "invitation.revoked",
        actor=actor,
        request=request,
        organization=invitation.organization,
        target=invitation.email,
    )
    return invitation


def find_invitation(token: str) -> Invitation | None:
    return Invitation.objects.select_related("organization", "role").filter(token_hash=hash_token(token)).first()


@transaction.atomic
def accept_invitation(token: str, user: User, *, request: HttpRequest | None = None) -> Membership:
    """Join the invitation's organization as `user`. Works once, before expiry, for the invited email."""
    invitation = Invitation.objects.select_for_update().filter(token_hash=hash_token(token)).first()
    if invitation is None or invitation.status == Invitation.Status.REVOKED:
        raise RuleViolation("This invitation link is not valid. Ask for a new invitation.")
    if invitation.status == Invitation.Status.ACCEPTED:
        raise RuleViolation("This invitation has already been used.")
    if not invitation.is_usable:
        raise RuleViolation("This invitation has expired. Ask the person who invited you to resend it.")
    if user.email != invitation.email:
        raise RuleViolation(
            f"This invitation is for {invitation.email}, but you are signed in as {user.email}. "
            "Sign out and open the link again."
        )
    membership, created = Membership.objects.get_or_create(
        user=user, organization=invitation.organization, defaults={"role": invitation.role}
    )
    if not created:
        raise RuleViolation(f"You are already a member of {invitation.organization.name}.")
    invitation.mark_accepted(user)
    audit.record(
        "invitation.accepted",
        request=request,
        actor=user,
        organization=invitation.organization,
        target=user.email,
        role=invitation.role.name,
    )
    return membership


def accept_invitation_as_new_user(
    token: str, *, name: str, password: str, request: HttpRequest | None = None
) -> Membership:
    password_hash = make_password(password)  # hashing takes a good part of a second: before the transaction
    with transaction.atomic():
        invitation = find_invitation(token)
        if invitation is None:
            raise RuleViolation("This invitation link is not valid. Ask for a new invitation.")
        if User.objects.filter(email=invitation.email).exists():
            raise RuleViolation(f"An account for {invitation.email} exists already; sign in to accept.")
        user = _new_user(invitation.email, password_hash, name)
        return accept_invitation(token, user, request=request)


def expire_invitations() -> int:
    """Mark pending invitations past their expiry as expired; returns how many changed."""
    return Invitation.objects.filter(status=Invitation.Status.PENDING, expires_at__lte=timezone.now()).update(
        status=Invitation.Status.EXPIRED
    )
