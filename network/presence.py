"""Receiving a verified notification: keep it once, and apply it to who is in which channel.

Agora delivers notifications more than once, out of order, and sometimes not at all. So:
- a noticeId seen before only counts one more delivery (ReceivedNotice.deliveries) and changes nothing;
- a join, leave or role event is applied only when its clientSeq is above the last one applied for that
  user (Agora's presence rule); an older one is kept as "stale" and ignored;
- a user who left keeps their row, with its sequence, so that a late join cannot bring them back; rows of
  users gone for longer than LEFT_KEPT are removed by `forget_old` (beat).
Events 101 and 102 open and close a Call of the channel.
"""

from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from projects.models import Project

from . import ncs
from .models import Call, ChannelUser, NotificationSettings, ReceivedNotice

LEFT_KEPT = timedelta(seconds=60)
DUPLICATE = "duplicate"


def receive(project: Project, notice: ncs.Notice) -> str:
    """Store and apply `notice` for `project`; its outcome ("applied", "stale", "recorded" or "duplicate")."""
    now = timezone.now()
    with transaction.atomic():
        try:
            with transaction.atomic():
                row = ReceivedNotice.objects.create(
                    project=project,
                    notice_id=notice.notice_id,
                    product_id=notice.product_id,
                    event_type=notice.event_type,
                    channel_name=notice.channel_name,
                    uid=notice.uid,
                    client_seq=notice.client_seq,
                    payload=notice.payload,
                    outcome=ReceivedNotice.Outcome.RECORDED,
                    first_received_at=now,
                    last_received_at=now,
                )
        except IntegrityError:  # delivered before: count it, change nothing
            ReceivedNotice.objects.filter(project=project, notice_id=notice.notice_id).update(
                deliveries=F("deliveries") + 1, last_received_at=now
            )
            return DUPLICATE
        outcome = _apply(project, notice, now)
        if outcome != row.outcome:
            ReceivedNotice.objects.filter(pk=row.pk).update(outcome=outcome)
    return outcome


def _apply(project: Project, notice: ncs.Notice, now: datetime) -> str:
    if notice.product_id != ncs.RTC_PRODUCT:
        return ReceivedNotice.Outcome.RECORDED
    if notice.is_presence:
        return _apply_presence(project, notice, now)
    if notice.event_type == ncs.CHANNEL_CREATED and notice.channel_name:
        _open_call(project, notice, now)
        return ReceivedNotice.Outcome.APPLIED
    if notice.event_type == ncs.CHANNEL_DESTROYED and notice.channel_name:
        _close_call(project, notice, now)
        return ReceivedNotice.Outcome.APPLIED
    return ReceivedNotice.Outcome.RECORDED


def _event_time(notice: ncs.Notice, now: datetime) -> datetime:
    return datetime.fromtimestamp(notice.ts, UTC) if notice.ts else now


def _apply_presence(project: Project, notice: ncs.Notice, now: datetime) -> str:
    online, role = ncs.PRESENCE[notice.event_type]
    key = {"project": project, "channel_name": notice.channel_name, "uid": notice.uid}
    user = ChannelUser.objects.select_for_update().filter(**key).first()
    if user is None:
        user = ChannelUser(**key, last_client_seq=-1, online=False, role=role, updated_at=now)
    elif notice.sequence <= user.last_client_seq:
        return ReceivedNotice.Outcome.STALE
    was_online = user.online
    user.role, user.online, user.last_client_seq, user.updated_at = role, online, notice.sequence, now
    if notice.payload.get("platform") is not None and isinstance(notice.payload["platform"], int):
        user.platform = notice.payload["platform"]
    if online and not was_online:
        user.joined_at, user.left_at, user.leave_reason = _event_time(notice, now), None, None
    elif not online:
        user.left_at = _event_time(notice, now)
        reason = notice.payload.get("reason")
        user.leave_reason = reason if isinstance(reason, int) and not isinstance(reason, bool) else None
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # the user's first event raced another: apply this one against that row
        return _apply_presence(project, notice, now)
    return ReceivedNotice.Outcome.APPLIED


def _open_call(project: Project, notice: ncs.Notice, now: datetime) -> None:
    calls = Call.objects.filter(project=project, channel_name=notice.channel_name, ended_at__isnull=True)
    if not calls.exists():
        Call.objects.create(project=project, channel_name=notice.channel_name, started_at=_event_time(notice, now))


def _close_call(project: Project, notice: ncs.Notice, now: datetime) -> None:
    last_uid = notice.payload.get("lastUid")
    Call.objects.filter(project=project, channel_name=notice.channel_name, ended_at__isnull=True).update(
        ended_at=_event_time(notice, now),
        last_uid=last_uid if isinstance(last_uid, int) and not isinstance(last_uid, bool) else None,
    )


def online_users(project: Project, channel_name: str):
    """The users in a channel now, hosts first, then by join time."""
    return ChannelUser.objects.filter(project=project, channel_name=channel_name, online=True).order_by(
        "role", "joined_at", "uid"
    )


def forget_old(now: datetime | None = None) -> tuple[int, int]:
    """Remove users who left more than LEFT_KEPT ago, and notices older than their project's retention.
    Returns (users removed, notices removed)."""
    now = now or timezone.now()
    users, _ = ChannelUser.objects.filter(online=False, updated_at__lt=now - LEFT_KEPT).delete()
    notices = 0
    for settings in NotificationSettings.objects.only("project_id", "retention_days"):
        cutoff = now - timedelta(days=settings.retention_days)
        removed, _ = ReceivedNotice.objects.filter(project_id=settings.project_id, last_received_at__lt=cutoff).delete()
        notices += removed
    return users, notices
