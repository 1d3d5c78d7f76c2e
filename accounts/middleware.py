from .models import Membership

SESSION_KEY = "organization_id"


def current_membership(request) -> Membership | None:
    """The signed-in user's membership in the organization chosen in this session (or their first)."""
    if not request.user.is_authenticated:
        return None
    memberships = Membership.objects.filter(user=request.user).select_related("organization", "role")
    chosen = request.session.get(SESSION_KEY)
    membership = (chosen and memberships.filter(organization_id=chosen).first()) or memberships.first()
    if membership is not None and membership.organization_id != chosen:
        request.session[SESSION_KEY] = membership.organization_id
    return membership


class CurrentMembershipMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.membership = current_membership(request)
        return self.get_response(request)
