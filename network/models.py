"""What the console knows of a project's channels, from the notifications Agora sends it.

NotificationSettings: the receiving end of one project's webhooks (its secret, encrypted at rest).
ReceivedNotice: every notification received, once per noticeId however often it was delivered.
ChannelUser: a user (UID) of a channel and whether it is in it now, ordered by the user's clientSeq.
Call: a channel's life from its first join to its last leave (events 101 and 102).
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
        indexes = [models.Index(fields=["project", "online", "channel_name"], name="online_users_by_channel")]

    def __str__(self) -> str:
        return f"{self.uid} in {self.channel_name}"


class Call(models.Model):
    organization_path = "project__organization"
    project_path = "project"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="calls")
    channel_name = models.CharField(max_length=ncs.MAX_CHANNEL_NAME)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True)
    last_uid = models.BigIntegerField(null=True)

    class Meta:
        indexes = [models.Index(fields=["project", "channel_name", "-started_at"], name="calls_of_a_channel")]

    def __str__(self) -> str:
        return f"{self.channel_name} from {self.started_at:%Y-%m-%d %H:%M}"
