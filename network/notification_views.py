"""A project's Notifications tab: the receiving end of Agora's Notification Center Service (webhooks).

Everyone with channels "view" reads it: the receiving URL to paste into Agora's console, whether notifications
are enabled, the event types, the retention, the last notifications received and how to set Agora up. The
secret is for roles that may view App Certificates, revealed on request (audited) and never in the page
otherwise. Changes need channels "manage" and go through network.services: the settings form, enable, disable
and rotate (both asked first), and Check, which sends signed test notifications to the receiving URL over real
HTTP (network.check) and shows how each was answered.
"""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect
from django.urls import path, reverse
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import member_required, require
from console.refusals import RuleViolation
from console.views import CONFIRM_METHODS, confirm_then_act

from . import ncs, services
from .check import TIMEOUT
from .models import NotificationSettings, ReceivedNotice, default_event_types
from .notification_forms import HIGH_VOLUME, NotificationSettingsForm
from .pages import project_for, render_project_page

RECENT = 20  # notifications listed on the tab
TAB, TITLE = "notifications", "Notifications"


def receiving_url(request, project) -> str:
    """The address Agora's console is given: SITE_URL's host when set, else the one this request came to."""
    where = reverse("network:agora_notification", args=[project.project_id])
    return f"{settings.SITE_URL}{where}" if settings.SITE_URL else request.build_absolute_uri(where)


def _tab_url(project) -> str:
    return reverse("channels:notifications", args=[project.project_id])


def _recent_notices(project) -> list[ReceivedNotice]:
    notices = list(ReceivedNotice.objects.filter(project=project).order_by("-first_received_at", "-pk")[:RECENT])
    for notice in notices:
        notice.event_name = ncs.EVENT_NAMES.get(notice.event_type, "")
    return notices


def _render(request, project, *, form=None, revealed: str | None = None, results=None):
    membership = request.membership
    receiving = NotificationSettings.objects.filter(project=project).first()
    can_manage = membership.can("channels", "manage")
    if receiving is not None and can_manage and form is None:
        form = NotificationSettingsForm(
            initial={"event_types": receiving.event_types, "retention_days": receiving.retention_days}
        )
    subscribed = receiving.event_types if receiving else default_event_types()
    context = {
        "receiving": receiving,
        "receiving_url": receiving_url(request, project),
        "subscribed": [(code, ncs.EVENT_NAMES.get(code, "")) for code in subscribed],
        "high_volume": HIGH_VOLUME,
        "form": form,
        "can_manage": can_manage,
        "can_view_secret": membership.can("certificates", "view"),
        "revealed": revealed,
        "results": results,
        "timeout": int(TIMEOUT),
        "test_channel": ncs.TEST_CHANNEL,
        "test_uid": ncs.TEST_UID,
        "notices": _recent_notices(project),
    }
    response = render_project_page(request, project, TAB, "network/notifications.html", context, title=TITLE)
    if revealed:
        response["Cache-Control"] = "no-store"  # the page holds the secret: no copy in any cache
    return response


@member_required("channels")
@require_http_methods(["GET", "POST"])
def notifications(request, project_id):
    """The tab; POST saves the event types and the retention (channels "manage")."""
    project = project_for(request, project_id)
    if request.method != "POST":
        return _render(request, project)
    require(request.membership, "channels", "manage")
    form = NotificationSettingsForm(request.POST)
    if form.is_valid():
        try:
            services.update(
                request.membership,
                project,
                event_types=form.cleaned_data["event_types"],
                retention_days=form.cleaned_data["retention_days"],
                request=request,
            )
        except RuleViolation as refusal:
            if refusal.field not in form.fields:  # not enabled: the tab shows no form to hold the error
                messages.error(request, str(refusal))
                return redirect(_tab_url(project))
            form.add_error(refusal.field, str(refusal))
        else:
            messages.success(request, "Notification settings saved.")
            return redirect(_tab_url(project))
    return _render(request, project, form=form)


@require_POST
@member_required("channels", "manage")
def enable(request, project_id):
    project = project_for(request, project_id)
    created = not NotificationSettings.objects.filter(project=project).exists()
    services.enable(request.membership, project, request=request)
    if created:
        messages.success(
            request,
            "Notifications are enabled. Give Agora's console the receiving URL and the secret below, then Check.",
        )
    else:
        messages.success(request, "Notifications are enabled again, with the same secret.")
    return redirect(_tab_url(project))


@member_required("channels", "manage")
@require_http_methods(CONFIRM_METHODS)
def disable(request, project_id):
    project = project_for(request, project_id)
    back = _tab_url(project)
    return confirm_then_act(
        request,
        act=lambda: services.disable(request.membership, project, request=request),
        done="Notifications are disabled: the console answers them 404 until you enable them again.",
        title=f"Stop receiving notifications for {project.name}?",
        message="The console will answer Agora's notifications for this project with 404. Agora retries each a few "
        "times, then drops it: what happens in the channels meanwhile is never learnt from notifications (the "
        "channel pull still reconciles who is online).",
        consequences=[
            "The secret, the event types and the notifications received are kept.",
            "Enabling again later uses the same secret: nothing to change in Agora's console.",
        ],
        action_label="Disable notifications",
        cancel_url=back,
        parent=(f"{project.name}: {TITLE}", back),
    )


@member_required("channels", "manage")
@require_http_methods(CONFIRM_METHODS)
def rotate(request, project_id):
    project = project_for(request, project_id)
    back = _tab_url(project)
    return confirm_then_act(
        request,
        act=lambda: services.rotate_secret(request.membership, project, request=request),
        done="A new secret was generated. Enter it in Agora's console now: until then its notifications are refused.",
        title=f"Generate a new notification secret for {project.name}?",
        message="The current secret stops working at once: every notification Agora signs with it is answered 401 "
        "and dropped after Agora's retries, until the new secret is entered in Agora's console.",
        consequences=[
            "Enter the new secret in Agora's console (Project > Notifications) right after, then Check there.",
            "Someone whose role may view App Certificates reveals the new secret on this tab.",
        ],
        action_label="Generate a new secret",
        cancel_url=back,
        parent=(f"{project.name}: {TITLE}", back),
    )


@require_POST
@member_required("channels", "manage")
def check(request, project_id):
    """Send the signed test notifications now and show the verdicts on the tab."""
    project = project_for(request, project_id)
    try:
        results = services.check(request.membership, project, receiving_url(request, project), request=request)
    except RuleViolation as refusal:
        messages.error(request, str(refusal))
        return redirect(_tab_url(project))
    return _render(request, project, results=results)


@require_POST
@member_required("channels")
def reveal(request, project_id):
    """The secret on the tab, for this page only; audited."""
    project = project_for(request, project_id)
    require(request.membership, "certificates", "view")
    try:
        secret = services.reveal_secret(request.membership, project, request=request)
    except RuleViolation as refusal:
        messages.error(request, str(refusal))
        return redirect(_tab_url(project))
    return _render(request, project, revealed=secret)


# Listed in network/page_urls.py, under the "channels" namespace.
PROJECT = "projects/<project_id:project_id>/notifications/"
urlpatterns = [
    path(PROJECT, notifications, name="notifications"),
    path(f"{PROJECT}enable/", enable, name="notifications_enable"),
    path(f"{PROJECT}disable/", disable, name="notifications_disable"),
    path(f"{PROJECT}rotate/", rotate, name="notifications_rotate"),
    path(f"{PROJECT}check/", check, name="notifications_check"),
    path(f"{PROJECT}reveal/", reveal, name="notifications_reveal"),
]
