"""The signed-in member's notifications in the current organization (the bell in the top bar)."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from console.changelist import Changelist, Column

from . import notifications as service
from .access import get_for_member, member_required, restrict
from .models import Notification


def own_notifications(request):
    """A member sees only their own notifications, and only those of the current organization."""
    return restrict(Notification, request.membership).filter(recipient=request.user)


def console_path(request, url: str) -> str | None:
    """`url` when it is a path on this console (never another site); otherwise None."""
    if not url.startswith("/") or not url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return None
    return url


@member_required()
@require_safe
def notifications(request):
    changelist = Changelist(
        request,
        own_notifications(request),
        columns=[Column("Notification"), Column("Received (UTC)", "created_at"), Column("")],
        row_template="accounts/notification_row.html",
        search_fields=("title", "body"),
        search_placeholder="Search notifications",
        default_ordering=("-created_at", "-id"),
        empty_title="No notifications",
        empty_text="Usage alerts and other messages for you in this organization show up here.",
    )
    return render(request, "accounts/notifications.html", {"changelist": changelist})


@require_POST
@member_required()
def mark_all_read(request):
    count = service.mark_all_read(request.user, request.membership.organization_id)
    if count:
        messages.success(request, f"Marked {count} notification{'' if count == 1 else 's'} as read.")
    return redirect(console_path(request, request.POST.get("next", "")) or reverse("notifications"))


@require_safe
@member_required()
def open_notification(request, pk):
    notification = get_for_member(request.membership, own_notifications(request), pk=pk)
    service.mark_read(notification)
    return redirect(console_path(request, notification.link) or reverse("notifications"))
