"""Who is online where, as the console knows it now (webhooks, reconciled by the channel pull): the queries
behind the live channels page, the console's /dev/v1/channel endpoints and the native API."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Max, Min, Q, QuerySet

from projects.models import Project

from . import agora_shapes, ncs
from .models import ChannelUser, ReceivedNotice

PUBLISHERS = Q(role__in=(ncs.HOST, ncs.COMMUNICATION))
# /dev/v1/channel/user/property's role numbers for the console's ChannelUser roles
AGORA_ROLE = {
    ncs.COMMUNICATION: agora_shapes.ROLE_COMMUNICATION,
    ncs.HOST: agora_shapes.ROLE_HOST,
    ncs.AUDIENCE: agora_shapes.ROLE_AUDIENCE,
}
ROLE_CHANGES = (ncs.BECAME_BROADCASTER, ncs.BECAME_AUDIENCE)


def online_channels(project: Project) -> QuerySet:
    """One row per channel with someone online: channel_name, users, hosts (communication users included),
    audience, since (the earliest join of those online) and last_change. Busiest first."""
    return (
        ChannelUser.objects.filter(project=project, online=True)
        .values("channel_name")
        .annotate(
            # Columns the index on online users holds (role, not id), so that it can answer alone
            users=Count("role"),
            hosts=Count("role", filter=PUBLISHERS),
            audience=Count("role", filter=Q(role=ncs.AUDIENCE)),
            since=Min("joined_at"),
            last_change=Max("updated_at"),
        )
        .order_by("-users", "channel_name")
    )


def online_totals(project: Project) -> dict:
    """Channels and users online in the project."""
    return ChannelUser.objects.filter(project=project, online=True).aggregate(
        channels=Count("channel_name", distinct=True), users=Count("id")
    )


def users_online(project: Project) -> int:
    return ChannelUser.objects.filter(project=project, online=True).count()


def channel_members(project: Project, channel_name: str) -> QuerySet[ChannelUser]:
    """The users in a channel now: those who publish (communication users, hosts) first, then by join time."""
    return ChannelUser.objects.filter(project=project, channel_name=channel_name, online=True).order_by(
        "role", "joined_at", "uid"
    )


@dataclass(frozen=True)
class RoleChange:
    uid: int
    to_host: bool
    at: datetime


def role_changes(project: Project, channel_name: str, uids: list[int], limit: int = 200) -> dict[int, list[RoleChange]]:
    """The recent role changes (events 111 and 112) of these users in the channel, newest first."""
    notices = ReceivedNotice.objects.filter(
        project=project, channel_name=channel_name, uid__in=uids, event_type__in=ROLE_CHANGES
    ).order_by("-first_received_at")[:limit]
    changes: dict[int, list[RoleChange]] = {}
    for notice in notices:
        change = RoleChange(notice.uid, notice.event_type == ncs.BECAME_BROADCASTER, notice.first_received_at)
        changes.setdefault(notice.uid, []).append(change)
    return changes


# The /dev/v1/channel answers --------------------------------------------------------------------------


def channel_list_answer(project: Project, page_no: int, page_size: int) -> dict:
    """A page of /dev/v1/channel/{appid} (pages count from 0; a page past the end is empty)."""
    channels = online_channels(project)
    total = channels.count()
    start = page_no * page_size
    rows = channels[start : start + page_size] if start < total else []
    return agora_shapes.channel_list_answer(((row["channel_name"], row["users"]) for row in rows), total)


def channel_users_answer(project: Project, channel_name: str, *, hosts_only: bool = False) -> dict:
    users = channel_members(project, channel_name).values_list("uid", "role")
    by_role: dict[int, list[int]] = {ncs.HOST: [], ncs.AUDIENCE: [], ncs.COMMUNICATION: []}
    for uid, role in users:
        by_role[role].append(uid)
    return agora_shapes.channel_users_answer(
        by_role[ncs.HOST], by_role[ncs.AUDIENCE], by_role[ncs.COMMUNICATION], hosts_only=hosts_only
    )


def user_property_answer(project: Project, uid: int, channel_name: str) -> dict:
    user = ChannelUser.objects.filter(project=project, channel_name=channel_name, uid=uid, online=True).first()
    if user is None:
        return agora_shapes.user_property_answer(uid, None, None, None)
    return agora_shapes.user_property_answer(uid, user.joined_at, AGORA_ROLE[user.role], user.platform)
