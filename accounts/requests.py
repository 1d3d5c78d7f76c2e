"""The request as the console's views see it, for annotations: accounts/middleware.py's docstring lists
what the middleware attaches (`request.membership`, `role.scoped_project_ids`); views behind
`member_required` and the APIs' permissions can rely on `request.membership` being set.
"""

from django.http import HttpRequest

from .models import Membership


class MemberRequest(HttpRequest):
    """A request that passed `member_required` or an API permission, so its membership is set; used in
    annotations only, never instantiated."""

    membership: Membership
