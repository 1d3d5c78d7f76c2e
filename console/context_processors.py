from django.urls import reverse

from accounts.permissions import MODULES

from .navigation import visible_items


def console_shell(request):
    """What the base layout needs: navigation for the current role and the organization switcher."""
    membership = getattr(request, "membership", None)
    if membership is None:
        return {"nav_items": [], "current_membership": None, "switchable_memberships": [], "member_can": {}}
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
        "nav_items": nav,
        "current_membership": membership,
        "switchable_memberships": others,
        "member_can": member_can,
    }
