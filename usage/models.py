import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Organization, User
from console.crypto import EncryptedTextField
from console.text import length_at_most
from projects.models import Project

# Upstream JSON field -> our column, in tier order (Audio, HD, Full HD, 2K, 2K+, legacy HD+).
DURATION_FIELDS = {
    "durationAudioAll": "audio",
    "durationVideoHd": "video_hd",
    "durationVideo1080P": "video_full_hd",
    "durationVideo2K": "video_2k",
    "durationVideo4K": "video_2k_plus",
    "durationVideoHdp": "video_hd_plus",
}
TIER_LABELS = {
    "audio": "Audio",
    "video_hd": "Video HD",
    "video_full_hd": "Video Full HD",
    "video_2k": "Video 2K",
    "video_2k_plus": "Video 2K+",
    "video_hd_plus": "Video HD+ (legacy)",
}
BUSINESSES = ("default", "transcodeDuration", "recording", "cloudRecording", "miniapp")


class Upstream(models.Model):
    """Where an organization's usage comes from: an Agora-compatible RESTful API, or the built-in sandbox."""

    organization_path = "organization"

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="upstream")
    base_url = models.URLField(
        "base URL", blank=True, help_text="E.g. https://api.agora.io. Empty: the built-in sandbox upstream."
    )
    customer_id = models.CharField("Customer ID", max_length=100)
    customer_secret = EncryptedTextField("Customer Secret")
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_check_result = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Usage upstream of {self.organization}"

    @property
    def is_sandbox(self) -> bool:
        return not self.base_url

    @property
    def effective_url(self) -> str:
        return (self.base_url or settings.USAGE_UPSTREAM_URL).rstrip("/")

    @classmethod
    def new_sandbox(cls, organization: Organization) -> "Upstream":
        return cls(organization=organization, customer_id=secrets.token_hex(16), customer_secret=secrets.token_hex(16))


class ProjectMapping(models.Model):
    """Which upstream project id a console project's usage is keyed by (the usage API wants that id)."""

    organization_path = "project__organization"
    project_path = "project"

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="usage_mapping")
    upstream_project_id = models.CharField(max_length=64)
    matched_automatically = models.BooleanField(default=True, help_text="Matched by App ID (vendor_key).")
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.project} -> {self.upstream_project_id}"


class DailyUsage(models.Model):
    """One project's usage on one UTC day for one business, in seconds per tier. Re-pulls replace rows."""

    organization_path = "project__organization"
    project_path = "project"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="daily_usage")
    date = models.DateField()
    business = models.CharField(max_length=32, default="default")
    audio = models.BigIntegerField(default=0)
    video_hd = models.BigIntegerField(default=0)
    video_full_hd = models.BigIntegerField(default=0)
    video_2k = models.BigIntegerField(default=0)
    video_2k_plus = models.BigIntegerField(default=0)
    video_hd_plus = models.BigIntegerField(default=0)
    pulled_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "date", "business"], name="one_usage_row_per_day"),
        ]
        indexes = [
            models.Index(fields=["date", "business"], name="usage_date_business"),
            models.Index(fields=["project", "business", "date"], name="usage_project_business_date"),
        ]

    def __str__(self) -> str:
        return f"{self.project} {self.date} {self.business}"


# What a pull run keeps of its errors (the first ones: the page lists them, the log has all).
ERROR_MAX = 20_000


class PullRun(models.Model):
    """One pull (a recent pull, a backfill or a command run): what, who, how far, and how it ended."""

    organization_path = "organization"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        CONSOLE = "console", "Console"
        COMMAND = "command", "Command line"
        DEMO = "demo", "Demo data"

    class Kind(models.TextChoices):
        USAGE = "usage", "Usage"
        CHANNELS = "channels", "Online channels"
        CALLS = "calls", "Calls and quality"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIAL = "partial", "Partly failed"
        FAILED = "failed", "Failed"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="pull_runs")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.USAGE)
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    started_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    date_from = models.DateField()
    date_to = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    windows_total = models.PositiveIntegerField(default=0)
    windows_done = models.PositiveIntegerField(default=0)
    windows_failed = models.PositiveIntegerField(default=0)
    rows_written = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0, help_text="HTTP requests made, retries included.")
    error = models.TextField(blank=True, max_length=ERROR_MAX)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # A worker can die mid-run (README, "When a worker dies"): the run beats while it goes, the reaper
    # re-queues it once the beats stop, and the next worker resumes after the last window written.
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life: queued (again), or a window written."
    )
    resumed_count = models.PositiveIntegerField(default=0, help_text="Times re-queued after its worker was lost.")
    # The resume point: windows of projects with a smaller id, and this project's up to this day, are done
    # (a run walks its projects by id, each project's windows by date). Cleared when the run ends.
    done_through_project = models.BigIntegerField(
        null=True, blank=True, help_text="Resume point: id of the project of the last window written."
    )
    done_through_date = models.DateField(
        null=True, blank=True, help_text="Resume point: last day of the last window written."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-created_at"]),
            models.Index(fields=["status", "heartbeat_at"]),
        ]
        constraints = [length_at_most("error", ERROR_MAX)]

    def __str__(self) -> str:
        return f"Pull {self.date_from}..{self.date_to} ({self.status})"

    @property
    def progress_percent(self) -> int:
        if not self.windows_total:
            return 0 if self.status in (self.Status.QUEUED, self.Status.RUNNING) else 100
        return round(100 * (self.windows_done + self.windows_failed) / self.windows_total)

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)


class PullLock(models.Model):
    """Held while one worker pulls a project, so two never pull the same project at once."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="+")
    # The run holding it: the reaper releases the lock of a run whose worker was lost.
    run = models.ForeignKey(PullRun, on_delete=models.CASCADE, null=True, blank=True, related_name="locks")
    acquired_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Pull lock on {self.project_id} since {self.acquired_at:%H:%M:%S}"
