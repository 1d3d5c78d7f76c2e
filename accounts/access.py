"""The one permission mechanism: every page, API view and command asks through here.

- `member_required(module, level)` guards a view: anonymous -> sign-in page, no organization -> the
  "create organization" page, role below the level -> 403.
- `restrict(queryset, membership)` narrows any queryset to the member's organization and project scope.
- `get_for_member(membership, queryset, **lookup)` fetches one object through `restrict`, 404 otherwise.

Models say how they belong to an organization and a project with two class attributes:
`organization_path` (e.g. "organization" or "project__organization") and, for project-scoped data,
`project_path` (e.g. "project", or "pk" for the project itself).
"""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.shortcuts import get_object_or_404, redirect

from .models import Membership


def restrict(queryset: QuerySet | type[Model], membership: Membership) -> QuerySet:
    if not isinstance(queryset, QuerySet):
        queryset = queryset._default_manager.all()
    model = queryset.model
    queryset = queryset.filter(**{model.organization_path: membership.organization_id})
    project_path = getattr(model, "project_path", None)
    if project_path and not membership.role.all_projects:
        queryset = queryset.filter(**{f"{project_path}__in": scope_ids(membership)})
    return queryset


def scope_ids(membership: Membership):
    """The ids of the projects a scoped member may see (read once per request by the middleware)."""
    ids = membership.role.scoped_project_ids
    return ids if ids is not None else membership.role.projects.values_list("pk", flat=True)


def in_scope(membership: Membership, organization_id: int, project_pk: int) -> bool:
    """The same rule as `restrict`, for one project known by its ids."""
    if organization_id != membership.organization_id:
        return False
    return membership.role.all_projects or project_pk in set(scope_ids(membership))


def get_for_member(membership: Membership, queryset, **lookup):
    return get_object_or_404(restrict(queryset, membership), **lookup)


def member_required(module: str | None = None, level: str = "view"):
    """Guard a view: signed in, member of an organization, and (if given) at least `level` in `module`."""

    def decorator(view):
        @wraps(view)
        @login_required
        def guarded(request, *args, **kwargs):
            membership = request.membership
            if membership is None:
                return redirect("create_organization")
            if module is not None and not membership.can(module, level):
                raise PermissionDenied(f"Your role does not allow this ({module}: {level} needed).")
            return view(request, *args, **kwargs)

        guarded.required_permission = (module, level)
        return guarded

    return decorator


def require(membership: Membership, module: str, level: str) -> None:
    """Inside a view: the same check as `member_required`, for actions that need a higher level."""
    if not membership.can(module, level):
        raise PermissionDenied(f"Your role does not allow this ({module}: {level} needed).")


def module_permission(module: str, level: str = "view"):
    """The same check for API views (DRF permission class): a member with at least `level` in `module`."""
    from rest_framework.permissions import BasePermission

    class ModulePermission(BasePermission):
        message = f"Your role does not allow this ({module}: {level} needed)."

        def has_permission(self, request, view):
            membership = getattr(request, "membership", None)
            return membership is not None and membership.can(module, level)

    return ModulePermission
