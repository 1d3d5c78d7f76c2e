from django.urls import reverse

from .navigation import visible_items


def console_shell(request):
    """What the base layout needs: navigation for the current role and the organization switcher."""
    membership = getattr(request, "membership", None)
    if membership is None:
        return {"nav_items": [], "current_membership": None, "switchable_memberships": []}
    path = request.path
    nav = [
        {"label": item.label, "url": reverse(item.url_name), "current": path.startswith(item.section)}
        for item in visible_items(membership)
    ]
    others = request.user.memberships.select_related("organization").exclude(pk=membership.pk)
    return {"nav_items": nav, "current_membership": membership, "switchable_memberships": others}
