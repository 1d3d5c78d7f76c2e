"""The current member of every request: which organization the session works in, and the member's role in it.

What `CurrentMembershipMiddleware` attaches, before any view runs:
- `request.membership` (Membership | None): the signed-in person's membership in the organization chosen in
  this session (`request.session["organization_id"]`, kept up to date here), or their first one; None when
  signed out, when the person belongs to no organization, or when a single sign-on session is confined to an
  organization they have left. Its `organization` and `role` are loaded. An API call signed with a Customer
  ID and Secret then gets, from accounts.api_auth, the membership its credential acts for instead.
- `request.membership.role.scoped_project_ids` (declared on accounts.models.Role): the pks of the projects a
  scoped role may see, read once by `load_membership`; None when the role sees every project.

Memberships are cached (generation ACCESS, console.cache); every change to memberships, roles and
organizations retires the cached copies (accounts.signals). A session held back by its organization's
two-factor or single sign-on policy is answered here (two_factor.send_to_setup, sso.send_to_provider)
instead of by the view.
"""

from console.cache import cached

from . import sso, two_factor
from .models import Membership

SESSION_KEY = "organization_id"
ACCESS = "access"  # cache generation bumped by every change to memberships, roles and organizations


def current_membership(request) -> Membership | None:
    """The signed-in user's membership in the organization chosen in this session (or their first)."""
    if not request.user.is_authenticated:
        return None
    confined = sso.session_organization_id(request)
    chosen = confined or request.session.get(SESSION_KEY)
    membership = membership_for(request.user.pk, chosen)
    if confined and membership is not None and membership.organization_id != confined:
        return None  # a single-sign-on session opens its own organization only
    if membership is not None and membership.organization_id != chosen:
        request.session[SESSION_KEY] = membership.organization_id
    return membership


def membership_for(user_id: int, organization_id) -> Membership | None:
    """The user's membership in the organization (or their first one), from the cache."""
    return cached(ACCESS, f"{user_id}:{organization_id}", lambda: load_membership(user_id, organization_id))


def load_membership(user_id: int, chosen) -> Membership | None:
    """The user's membership in organization `chosen` (or their first one), with its role's project scope."""
    memberships = Membership.objects.filter(user_id=user_id).select_related("organization", "role")
    membership = (chosen and memberships.filter(organization_id=chosen).first()) or memberships.first()
    if membership is not None:
        # The project scope, read once here rather than on every scoped query of the request.
        role = membership.role
        role.scoped_project_ids = None if role.all_projects else frozenset(role.projects.values_list("pk", flat=True))
    return membership


class CurrentMembershipMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.membership = current_membership(request)
        if two_factor.held_back(request):
            return two_factor.send_to_setup(request)
        if sso.held_back(request):
            return sso.send_to_provider(request)
        return self.get_response(request)
