"""What the console knows of a project's channels, from the notifications Agora sends it.

NotificationSettings: the receiving end of one project's webhooks (its secret, encrypted at rest).
ReceivedNotice: every notification received, once per noticeId however often it was delivered.
ChannelUser: a user (UID) of a channel and whether it is in it now, ordered by the user's clientSeq.
Call: a channel's life from its first join to its last leave (events 101 and 102, or Agora Analytics).
CallSession, MetricSeries: a call's users and their quality metrics, pulled from Agora Analytics.
KickingRule: a ban (or mute) the console asked the upstream for, with the upstream's id for it.
Sandbox*: the network the built-in sandbox plays in development, its truth (what the console learns of it
comes through webhooks and the sandbox's APIs, as from Agora).
"""

import secrets

from django.db import models
from django.utils import timezone

from console.crypto import EncryptedTextField
from projects.models import Project

from . import ncs


def new_secret() -> str:
    return secrets.token_hex(16)


def default_event_types() -> list[int]:
    return sorted(ncs.EVENT_NAMES)


class NotificationSettings(models.Model):
    organization_path = "project__organization"
    project_path = "project"

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="notification_settings")
    secret = EncryptedTextField(default=new_secret)
    enabled = models.BooleanField(default=True)
    event_types = models.JSONField(default=default_event_types)
    retention_days = models.PositiveSmallIntegerField(default=7)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "notification settings"

    def __str__(self) -> str:
        return f"Notifications of {self.project}"


class ReceivedNotice(models.Model):
    class Outcome(models.TextChoices):
        APPLIED = "applied", "Applied"
        STALE = "stale", "Older than what was applied (ignored)"
        RECORDED = "recorded", "Recorded"

    organization_path = "project__organization"
    project_path = "project"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="received_notices")
    notice_id = models.CharField(max_length=ncs.MAX_NOTICE_ID)
    product_id = models.PositiveIntegerField()
    event_type = models.PositiveIntegerField()
    channel_name = models.CharField(max_length=ncs.MAX_CHANNEL_NAME, blank=True)
    uid = models.BigIntegerField(null=True)
    client_seq = models.BigIntegerField(null=True)
    payload = models.JSONField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    deliveries = models.PositiveIntegerField(default=1)
    first_received_at = models.DateTimeField()
    last_received_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "notice_id"], name="one_row_per_notice")]
        indexes = [models.Index(fields=["project", "-first_received_at"], name="notices_newest_first")]

    def __str__(self) -> str:
        return f"{self.notice_id} ({ncs.EVENT_NAMES.get(self.event_type, self.event_type)})"


class ChannelUser(models.Model):
    class Role(models.IntegerChoices):
        COMMUNICATION = ncs.COMMUNICATION, "Communication"
        HOST = ncs.HOST, "Host"
        AUDIENCE = ncs.AUDIENCE, "Audience"

    organization_path = "project__organization"
    project_path = "project"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="channel_users")
    channel_name = models.CharField(max_length=ncs.MAX_CHANNEL_NAME)
    uid = models.BigIntegerField()
    role = models.SmallIntegerField(choices=Role.choices)
    online = models.BooleanField()
    last_client_seq = models.BigIntegerField()  # the sequence of the event applied last: older ones are ignored
    platform = models.SmallIntegerField(null=True)
    joined_at = models.DateTimeField(null=True)
    left_at = models.DateTimeField(null=True)
    leave_reason = models.SmallIntegerField(null=True)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "channel_name", "uid"], name="one_row_per_channel_user")
        ]
        indexes = [
            # The live channel list groups the online users of a project by channel: in channel order, from the
            # index alone where the table's pages are all visible.
            models.Index(
                fields=["project", "channel_name"],
                include=["role", "joined_at", "updated_at"],
                condition=models.Q(online=True),
                name="online_users_by_channel",
            ),
            # forget_old removes those gone for a minute
            models.Index(fields=["updated_at"], condition=models.Q(online=False), name="users_who_left"),
        ]

    def __str__(self) -> str:
        return f"{self.uid} in {self.channel_name}"

    @property
    def platform_label(self) -> str:
        return ncs.PLATFORMS.get(self.platform, "Other") if self.platform is not None else "—"


class Call(models.Model):
    """A call: from the first user joining an empty channel to the last one leaving. Opened by webhook 101 or
    found by the analytics pull (which brings Agora's call id, its user counts and freeze rates)."""

    organization_path = "project__organization"
    project_path = "project"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="calls")
    channel_name = models.CharField(max_length=ncs.MAX_CHANNEL_NAME)
    call_id = models.CharField(max_length=64, blank=True, help_text="Agora Analytics' id; empty until pulled.")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True)
    last_uid = models.BigIntegerField(null=True)
    peak_users = models.PositiveIntegerField(null=True, help_text="PCU: the most users in the call at once.")
    accumulated_users = models.PositiveIntegerField(null=True, help_text="ACU: every user who joined at some point.")
    audio_freeze_rate = models.FloatField(null=True, help_text="A fraction: 0.03 is 3%.")
    video_freeze_rate = models.FloatField(null=True, help_text="A fraction: 0.05 is 5%.")
    details_pulled_at = models.DateTimeField(null=True, help_text="When its users and metrics were last pulled.")

    class Meta:
        indexes = [
            models.Index(fields=["project", "channel_name", "-started_at"], name="calls_of_a_channel"),
            models.Index(fields=["project", "-started_at"], name="calls_newest_first"),
            # The call search (network.calls): calls in progress, and the sorts by a quality figure, which leave
            # out the calls without one and read the range's start from the index.
            models.Index(
                fields=["project", "-started_at"], condition=models.Q(ended_at__isnull=True), name="calls_in_progress"
            ),
            models.Index(fields=["project", "-video_freeze_rate", "-started_at"], name="calls_by_video_freeze"),
            models.Index(fields=["project", "-audio_freeze_rate", "-started_at"], name="calls_by_audio_freeze"),
            models.Index(fields=["project", "-accumulated_users", "-started_at"], name="calls_by_users"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "call_id"], condition=~models.Q(call_id=""), name="one_row_per_call_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel_name} from {self.started_at:%Y-%m-%d %H:%M}"


class CallSession(models.Model):
    """One user's session in a call (Agora Analytics' `call_info` entry): a UID that rejoins has several."""

    organization_path = "project__organization"
    project_path = "project"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="sessions")
    sid = models.CharField(max_length=64)
    uid = models.BigIntegerField()
    account = models.CharField(max_length=255, blank=True)
    network = models.CharField(max_length=32, blank=True)
    platform = models.CharField(max_length=32, blank=True)
    region = models.CharField(max_length=64, blank=True)
    speaker = models.BooleanField(default=False)
    roles = models.JSONField(default=list)
    sdk_version = models.CharField(max_length=64, blank=True)
    device_type = models.CharField(max_length=255, blank=True)
    joined_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True)
    finished = models.BooleanField(default=False)
    audio_freeze_rate = models.FloatField(null=True)
    video_freeze_rate = models.FloatField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["call", "sid"], name="one_row_per_session")]
        indexes = [models.Index(fields=["call", "uid"], name="sessions_of_a_user")]

    def __str__(self) -> str:
        return f"{self.uid} in {self.call}"


class MetricSeries(models.Model):
    """One metric of one session over the call: Agora's `mid`, the remote user it is about (0: the session's
    own) and its points, [[unix seconds, value], ...]."""

    session = models.ForeignKey(CallSession, on_delete=models.CASCADE, related_name="metrics")
    mid = models.PositiveIntegerField()
    peer_uid = models.BigIntegerField(default=0)
    points = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "mid", "peer_uid"], name="one_series_per_metric_and_peer")
        ]

    def __str__(self) -> str:
        return f"{self.mid} of {self.session_id} about {self.peer_uid}"


class KickingRule(models.Model):
    """A rule the console created at the upstream (Agora's /dev/v1/kicking-rule): who may not join or publish,
    where, until when. A one-shot kick (time 0) leaves no rule behind and so no row."""

    organization_path = "project__organization"
    project_path = "project"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="kicking_rules")
    upstream_id = models.BigIntegerField(null=True, help_text="The rule's id at the upstream.")
    channel_name = models.CharField(max_length=ncs.MAX_CHANNEL_NAME, blank=True)
    uid = models.BigIntegerField(null=True)
    ip = models.CharField(max_length=45, blank=True)
    privileges = models.JSONField()
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["project", "expires_at"], name="rules_in_force")]

    def __str__(self) -> str:
        return f"Rule {self.pk} of {self.project} until {self.expires_at:%Y-%m-%d %H:%M}"

    @property
    def who(self) -> str:
        """Whom the rule is about, in words: "UID 1001 in room-42", "everyone in room-42", "IP 203.0.113.9"."""
        if self.ip:
            return f"IP {self.ip}" + (f" in {self.channel_name}" if self.channel_name else "")
        if self.uid is not None:
            return f"UID {self.uid} " + (f"in {self.channel_name}" if self.channel_name else "in every channel")
        return f"everyone in {self.channel_name}"

    @property
    def what(self) -> str:
        """What the rule forbids: "may not join", "may not publish audio", ..."""
        words = {"join_channel": "join", "publish_audio": "publish audio", "publish_video": "publish video"}
        return "may not " + " or ".join(words.get(privilege, privilege) for privilege in self.privileges)


# The sandbox's network -----------------------------------------------------------------------------------


class SandboxCall(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    call_id = models.CharField(max_length=24, unique=True)
    channel_name = models.CharField(max_length=ncs.MAX_CHANNEL_NAME)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [models.Index(fields=["project", "-started_at"], name="sandbox_calls_newest_first")]

    def __str__(self) -> str:
        return f"Sandbox call {self.call_id} in {self.channel_name}"


class SandboxSession(models.Model):
    """A simulated user's time in a sandbox call; `seed` makes its metrics (drawn, not stored) repeatable."""

    call = models.ForeignKey(SandboxCall, on_delete=models.CASCADE, related_name="sessions")
    sid = models.CharField(max_length=32, unique=True)
    uid = models.BigIntegerField()
    role = models.SmallIntegerField(choices=ChannelUser.Role.choices, help_text="The role now (or when it left).")
    role_changes = models.JSONField(
        default=list,
        help_text="[[unix seconds, role before, role after], ...]: the role at join is the first 'before'.",
    )
    platform = models.SmallIntegerField()
    network = models.CharField(max_length=32)
    region = models.CharField(max_length=64)
    sdk_version = models.CharField(max_length=64)
    device_type = models.CharField(max_length=255)
    account = models.CharField(max_length=255, blank=True)
    ip = models.CharField(max_length=45)
    joined_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True)
    leave_reason = models.SmallIntegerField(null=True)
    client_seq = models.BigIntegerField(help_text="The sequence of this user's last event.")
    seed = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["call", "uid"], name="sandbox_sessions_of_a_user")]

    def __str__(self) -> str:
        return f"Sandbox {self.uid} in {self.call_id}"


class SandboxFailedJoin(models.Model):
    """A join the sandbox refused, as the network would: a wrong, expired or mismatched token."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    channel_name = models.CharField(max_length=ncs.MAX_CHANNEL_NAME)
    uid = models.BigIntegerField()
    attempted_at = models.DateTimeField()
    reason = models.CharField(max_length=200)

    def __str__(self) -> str:
        return f"Refused {self.uid} in {self.channel_name}: {self.reason}"


class SandboxRule(models.Model):
    """A kicking rule as the sandbox upstream keeps it (the console's KickingRule points at it by id)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    channel_name = models.CharField(max_length=ncs.MAX_CHANNEL_NAME, blank=True)
    uid = models.BigIntegerField(null=True)
    ip = models.CharField(max_length=45, blank=True)
    privileges = models.JSONField()
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Sandbox rule {self.pk}"


# Quality alerts ------------------------------------------------------------------------------------------


class QualityAlert(models.Model):
    """A condition on a project's call quality, e.g. the video freeze rate above 5% over 10 minutes. When the
    pulled metrics meet it, the members who may see the project's channels are told (bell and e-mail), at
    most once per window."""

    class Metric(models.TextChoices):
        VIDEO_FREEZE = "video_freeze_rate", "Video freeze rate"
        AUDIO_FREEZE = "audio_freeze_rate", "Audio freeze rate"

    organization_path = "project__organization"
    project_path = "project"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="quality_alerts")
    metric = models.CharField(max_length=20, choices=Metric.choices)
    threshold_percent = models.DecimalField(max_digits=5, decimal_places=2)
    window_minutes = models.PositiveSmallIntegerField(default=10)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["metric", "threshold_percent"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "metric", "threshold_percent", "window_minutes"], name="one_quality_alert_per_rule"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_metric_display()} above {self.threshold_percent}% over {self.window_minutes} min"


class QualityAlertFiring(models.Model):
    """An alert met over the window ending at `window_end`: what the rate was, over how much media time."""

    alert = models.ForeignKey(QualityAlert, on_delete=models.CASCADE, related_name="firings")
    window_end = models.DateTimeField()
    value_percent = models.DecimalField(max_digits=6, decimal_places=2)
    media_seconds = models.PositiveIntegerField(help_text="Seconds of received audio or video the rate is over.")
    fired_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-fired_at"]
        indexes = [models.Index(fields=["alert", "-fired_at"], name="quality_firings_newest_first")]

    def __str__(self) -> str:
        return f"{self.alert} fired at {self.fired_at:%Y-%m-%d %H:%M}"
