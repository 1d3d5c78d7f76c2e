from django.conf import settings
from django.urls import reverse

from accounts.notifications import unread_count
from accounts.permissions import MODULES

from .navigation import visible_items


def console_shell(request):
    """What the base layout needs: navigation for the current role, the organization switcher and the
    bell's unread count."""
    membership = getattr(request, "membership", None)
    if membership is None:
        return {
            "public_signup": settings.PUBLIC_SIGNUP,
            "nav_items": [],
            "current_membership": None,
            "switchable_memberships": [],
            "member_can": {},
            "unread_notifications": 0,
        }
    path = request.path
    nav = [
        {"label": item.label, "url": reverse(item.url_name), "current": path.startswith(item.section)}
        for item in visible_items(membership)
    ]
    others = request.user.memberships.select_related("organization").exclude(pk=membership.pk)
    # member_can.members.edit etc., for templates that show or hide a control.
    member_can = {
        module.key: {level: membership.can(module.key, level) for level in module.levels} for module in MODULES
    }
    return {
        "public_signup": settings.PUBLIC_SIGNUP,
        "nav_items": nav,
        "current_membership": membership,
        "switchable_memberships": others,
        "member_can": member_can,
        "unread_notifications": unread_count(request.user, membership.organization_id),
    }
