"""Live channels: who is online in a project's channels now, and the kicks, bans and mutes of those who manage
channels (through network.kicking, which asks the upstream and keeps the rule). The list and the channel page
refresh themselves (console.js, data-live-refresh)."""

from urllib.parse import quote

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_safe

from accounts.access import member_required, restrict
from console.changelist import Changelist, Column
from console.dates import moment_label, time_left_label
from console.refusals import RuleViolation
from console.views import CONFIRM_METHODS, confirm_then_act
from projects.models import Project

from . import agora_shapes, kicking, live
from .forms import ExtendForm, RuleForm
from .models import KickingRule
from .pages import project_for, render_project_page

REFRESH_SECONDS = 10


# The service names what it refuses by its own arguments; the forms ask for them under these names.
FORM_FIELDS = {"privileges": "action", "seconds": "minutes"}


def _refused(form, refusal: RuleViolation) -> None:
    field = FORM_FIELDS.get(refusal.field, refusal.field)
    form.add_error(field if field in form.fields else None, str(refusal))


def _can_manage(request) -> bool:
    return request.membership.can("channels", "manage")


@member_required("channels")
@require_safe
def index(request):
    """Every project the member may see, with its channels and users online now."""
    projects = restrict(Project.objects.active(), request.membership).order_by("name")
    rows = [{"project": project, **live.online_totals(project)} for project in projects]
    return render(request, "network/index.html", {"rows": rows, "refresh_seconds": REFRESH_SECONDS})


@member_required("channels")
@require_safe
def live_channels(request, project_id):
    project = project_for(request, project_id)
    changelist = Changelist(
        request,
        live.online_channels(project),
        columns=[
            Column("Channel", sort="channel_name"),
            Column("Users", sort="users"),
            Column("Hosts"),
            Column("Audience"),
            Column("Online since"),
        ],
        row_template="network/rows/channel.html",
        search_fields=("channel_name",),
        search_placeholder="Channel name",
        empty_title="Nobody is in a channel now",
        empty_text="Channels appear here as users join, learnt from Agora's notifications and the channel pull.",
        per_page=50,
    )
    now = timezone.now()
    channels = reverse("channels:live", args=[project.project_id])
    for row in changelist.page.object_list:  # made here: {% url %} and the date filters cost ~0.2 ms a row
        row["url"] = f"{channels}{quote(row['channel_name'], safe='')}/"
        row["since_label"] = (
            f"{moment_label(row['since'])} · {time_left_label(now - row['since'])}" if row["since"] else "—"
        )
    context = {
        "cl": changelist,
        "users_online": live.users_online(project),
        "rules": kicking.rules_in_force(project),
        "can_manage": _can_manage(request),
        "refresh_seconds": REFRESH_SECONDS,
    }
    return render_project_page(request, project, "channels", "network/live.html", context, title="Live channels")


@member_required("channels")
@require_safe
def live_channel(request, project_id, channel_name):
    project = project_for(request, project_id)
    members = list(live.channel_members(project, channel_name)[: agora_shapes.MAX_AUDIENCE_LISTED])
    changes = live.role_changes(project, channel_name, [member.uid for member in members])
    for member in members:
        member.role_changes = changes.get(member.uid, [])
    context = {
        "channel_name": channel_name,
        "hosts": [member for member in members if member.role != member.Role.AUDIENCE],
        "audience": [member for member in members if member.role == member.Role.AUDIENCE],
        "rules": kicking.rules_in_force(project).filter(channel_name__in=["", channel_name]),
        "can_manage": _can_manage(request),
        "refresh_seconds": REFRESH_SECONDS,
    }
    return render_project_page(request, project, "channels", "network/channel.html", context, title=channel_name)


def _channel_url(project, channel_name) -> str:
    """The channel's page; the live channel list for a name no channel page can have (a "/" in it, say)."""
    try:
        return reverse("channels:channel", args=[project.project_id, channel_name])
    except NoReverseMatch:
        return reverse("channels:live", args=[project.project_id])


@member_required("channels", "manage")
@require_http_methods(CONFIRM_METHODS)
def kick(request, project_id, channel_name, uid):
    project = project_for(request, project_id)
    back = _channel_url(project, channel_name)
    return confirm_then_act(
        request,
        act=lambda: kicking.kick(request.membership, project, channel_name, uid, request=request),
        done=f"UID {uid} was removed from {channel_name}.",
        title=f"Remove UID {uid} from {channel_name}?",
        message="The user is disconnected now (their app sees “banned by server”). This is a one-time kick: "
        "they may join again at once. To keep them out, ban them instead.",
        consequences=["Only this channel is affected.", "The kick is recorded in the audit log."],
        action_label="Remove from channel",
        cancel_url=back,
        parent=("Live channels", reverse("channels:live", args=[project.project_id])),
    )


@member_required("channels", "manage")
@require_http_methods(["GET", "POST"])
def new_rule(request, project_id):
    """Ban or mute a UID, an IP address or a whole channel for a while (a kicking rule at the upstream)."""
    project = project_for(request, project_id)
    initial = {
        key: request.GET.get(key, "") for key in ("scope", "channel_name", "uid", "action") if key in request.GET
    }
    form = RuleForm(request.POST if request.method == "POST" else None, initial={"minutes": 60, **initial})
    back = request.GET.get("channel_name") or request.POST.get("channel_name")
    cancel = _channel_url(project, back) if back else reverse("channels:live", args=[project.project_id])
    if request.method == "POST" and form.is_valid():
        try:
            rule = kicking.create_rule(request.membership, project, **form.rule(), request=request)
        except RuleViolation as refusal:
            _refused(form, refusal)
        else:
            messages.success(request, _created_message(rule))
            return redirect(cancel)
    context = {"form": form, "cancel_url": cancel}
    return render_project_page(request, project, "channels", "network/rule_form.html", context, title="Ban or mute")


def _created_message(rule: KickingRule | None) -> str:
    if rule is None:
        return "Done: whoever the rule named was removed once and may rejoin."
    return f"From now until {rule.expires_at:%Y-%m-%d %H:%M} UTC, {rule.who} {rule.what}."


def _rule(request, project, pk) -> KickingRule:
    return get_object_or_404(kicking.rules_in_force(project), pk=pk)


@member_required("channels", "manage")
@require_http_methods(["GET", "POST"])
def extend_rule(request, project_id, pk):
    project = project_for(request, project_id)
    rule = _rule(request, project, pk)
    form = ExtendForm(request.POST if request.method == "POST" else None)
    cancel = reverse("channels:live", args=[project.project_id])
    if request.method == "POST" and form.is_valid():
        try:
            rule = kicking.extend_rule(
                request.membership, rule, seconds=form.cleaned_data["minutes"] * 60, request=request
            )
        except RuleViolation as refusal:
            _refused(form, refusal)
        else:
            messages.success(
                request, f"{rule.who.capitalize()} {rule.what} until {rule.expires_at:%Y-%m-%d %H:%M} UTC."
            )
            return redirect(cancel)
    context = {"form": form, "rule": rule, "cancel_url": cancel}
    return render_project_page(request, project, "channels", "network/rule_extend.html", context, title="Extend a rule")


@member_required("channels", "manage")
@require_http_methods(CONFIRM_METHODS)
def remove_rule(request, project_id, pk):
    project = project_for(request, project_id)
    rule = _rule(request, project, pk)
    back = reverse("channels:live", args=[project.project_id])
    return confirm_then_act(
        request,
        act=lambda: kicking.remove_rule(request.membership, rule, request=request),
        done=f"Lifted: {rule.who} may join and publish again.",
        title=f"Lift the rule on {rule.who}?",
        message=f"Now {rule.who} {rule.what} until {rule.expires_at:%Y-%m-%d %H:%M} UTC. Lifting it takes effect "
        "at once.",
        action_label="Lift the rule",
        cancel_url=back,
        danger=False,
        parent=("Live channels", back),
    )
