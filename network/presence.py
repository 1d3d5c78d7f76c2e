"""Receiving a verified notification: keep it once, and apply it to who is in which channel.

Agora delivers notifications more than once, out of order, and sometimes not at all. So:
- a noticeId seen before only counts one more delivery (ReceivedNotice.deliveries) and changes nothing;
- a join, leave or role event is applied only when its clientSeq is above the last one applied for that
  user (Agora's presence rule); an older one is kept as "stale" and ignored;
- a user who left keeps their row, with its sequence, so that a late join cannot bring them back; rows of
  users gone for longer than LEFT_KEPT are removed by `forget_old` (beat).
Events 101 and 102 open and close a Call of the channel. The test notifications of a Check (channel
"test_webhook", from Agora's console or this one) are recorded and never applied.
"""

from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from . import ncs
from .models import Call, ChannelUser, NotificationSettings, ReceivedNotice

LEFT_KEPT = timedelta(seconds=60)
CALL_EVENTS = (ncs.CHANNEL_CREATED, ncs.CHANNEL_DESTROYED)
DUPLICATE = "duplicate"


def receive(project_pk: int, notice: ncs.Notice) -> str:
    """Store and apply `notice` for the project; its outcome ("applied", "stale", "recorded" or "duplicate").

    The common case is two statements: the notice inserted unless its noticeId is known, and the user's row
    inserted or updated only when the event is newer than the one applied last (an upsert with a condition,
    so two deliveries racing cannot both apply).
    """
    now = timezone.now()
    expected = _expected_outcome(notice)
    with transaction.atomic():
        if not _insert_notice(project_pk, notice, expected, now):
            ReceivedNotice.objects.filter(project_id=project_pk, notice_id=notice.notice_id).update(
                deliveries=F("deliveries") + 1, last_received_at=now
            )
            return DUPLICATE
        outcome = _apply(project_pk, notice, now)
        if outcome != expected:
            ReceivedNotice.objects.filter(project_id=project_pk, notice_id=notice.notice_id).update(outcome=outcome)
    return outcome


def _expected_outcome(notice: ncs.Notice) -> str:
    """What a notice's outcome is unless its event turns out stale: stored with it, spared an UPDATE."""
    if notice.product_id != ncs.RTC_PRODUCT or notice.channel_name == ncs.TEST_CHANNEL:
        return ReceivedNotice.Outcome.RECORDED
    if notice.is_presence or (notice.event_type in CALL_EVENTS and notice.channel_name):
        return ReceivedNotice.Outcome.APPLIED
    return ReceivedNotice.Outcome.RECORDED


# On PostgreSQL, the transaction that stores a notification does not wait for its commit to reach the disk
# (synchronous_commit off, for that transaction only, set within the INSERT: no extra round trip). Waiting
# was most of a delivery's time; the risk is losing the notifications of the last fraction of a second if
# the database server itself crashes (not the console), which the channel pull then reconciles (presence
# does not rest on webhooks alone, as Agora advises). Everything else the console writes stays synchronous.
LAZY_COMMIT = "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS lazy_commit"


def _insert_notice(project_pk: int, notice: ncs.Notice, outcome: str, now: datetime) -> bool:
    """Insert the notice with `outcome`; False when its noticeId was stored before (nothing inserted)."""
    payload = ReceivedNotice._meta.get_field("payload").get_db_prep_value(notice.payload, connection)
    moment = connection.ops.adapt_datetimefield_value(now)
    values = "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 1, %s, %s)"
    if connection.vendor == "postgresql":
        values = f"SELECT %s, %s, %s, %s, %s, %s, %s, %s, %s, 1, %s, %s {LAZY_COMMIT}"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {ReceivedNotice._meta.db_table} (project_id, notice_id, product_id, event_type,"
            f" channel_name, uid, client_seq, payload, outcome, deliveries, first_received_at, last_received_at)"
            f" {values} ON CONFLICT (project_id, notice_id) DO NOTHING RETURNING id",
            [
                project_pk,
                notice.notice_id,
                notice.product_id,
                notice.event_type,
                notice.channel_name,
                notice.uid,
                notice.client_seq,
                payload,
                outcome,
                moment,
                moment,
            ],
        )
        return cursor.fetchone() is not None


def _apply(project_pk: int, notice: ncs.Notice, now: datetime) -> str:
    if notice.product_id != ncs.RTC_PRODUCT or notice.channel_name == ncs.TEST_CHANNEL:  # a Check's: kept only
        return ReceivedNotice.Outcome.RECORDED
    if notice.is_presence:
        return _apply_presence(project_pk, notice, now)
    if notice.event_type == ncs.CHANNEL_CREATED and notice.channel_name:
        _open_call(project_pk, notice, now)
        return ReceivedNotice.Outcome.APPLIED
    if notice.event_type == ncs.CHANNEL_DESTROYED and notice.channel_name:
        _close_call(project_pk, notice, now)
        return ReceivedNotice.Outcome.APPLIED
    return ReceivedNotice.Outcome.RECORDED


def _event_time(notice: ncs.Notice, now: datetime) -> datetime:
    return datetime.fromtimestamp(notice.ts, UTC) if notice.ts else now


def _whole(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# The user's row after the event, unless the row holds a newer event: then nothing is written (stale). A user
# who comes online gets a new join time; one who goes offline a leave time and reason.
_UPSERT_USER = """
INSERT INTO {table} AS u (project_id, channel_name, uid, role, online, last_client_seq, platform, joined_at,
                          left_at, leave_reason, updated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (project_id, channel_name, uid) DO UPDATE SET
    role = excluded.role,
    online = excluded.online,
    last_client_seq = excluded.last_client_seq,
    platform = COALESCE(excluded.platform, u.platform),
    joined_at = CASE WHEN excluded.online AND NOT u.online THEN excluded.joined_at ELSE u.joined_at END,
    left_at = CASE WHEN NOT excluded.online THEN excluded.left_at WHEN u.online THEN u.left_at END,
    leave_reason = CASE WHEN NOT excluded.online THEN excluded.leave_reason WHEN u.online THEN u.leave_reason END,
    updated_at = excluded.updated_at
WHERE u.last_client_seq < excluded.last_client_seq
RETURNING id
"""


def _apply_presence(project_pk: int, notice: ncs.Notice, now: datetime) -> str:
    online, role = ncs.PRESENCE[notice.event_type]
    at = connection.ops.adapt_datetimefield_value(_event_time(notice, now))
    with connection.cursor() as cursor:
        cursor.execute(
            _UPSERT_USER.format(table=ChannelUser._meta.db_table),
            [
                project_pk,
                notice.channel_name,
                notice.uid,
                role,
                online,
                notice.sequence,
                _whole(notice.payload.get("platform")),
                at if online else None,
                None if online else at,
                None if online else _whole(notice.payload.get("reason")),
                connection.ops.adapt_datetimefield_value(now),
            ],
        )
        applied = cursor.fetchone() is not None
    return ReceivedNotice.Outcome.APPLIED if applied else ReceivedNotice.Outcome.STALE


def _open_call(project_pk: int, notice: ncs.Notice, now: datetime) -> None:
    calls = Call.objects.filter(project_id=project_pk, channel_name=notice.channel_name, ended_at__isnull=True)
    if not calls.exists():
        Call.objects.create(
            project_id=project_pk, channel_name=notice.channel_name, started_at=_event_time(notice, now)
        )


def _close_call(project_pk: int, notice: ncs.Notice, now: datetime) -> None:
    Call.objects.filter(project_id=project_pk, channel_name=notice.channel_name, ended_at__isnull=True).update(
        ended_at=_event_time(notice, now), last_uid=_whole(notice.payload.get("lastUid"))
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
