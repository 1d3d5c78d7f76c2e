import hashlib
import secrets
import string

from django.db import models
from django.utils import timezone

from accounts.models import Organization, Role
from console.crypto import EncryptedTextField

PROJECT_ID_ALPHABET = string.ascii_letters + string.digits


def new_app_id() -> str:
    return secrets.token_hex(16)


def new_project_id() -> str:
    """The short opaque id the REST API uses, like Agora's `7sdnf3xRH`."""
    return "".join(secrets.choice(PROJECT_ID_ALPHABET) for _ in range(9))


def new_certificate_value() -> str:
    return secrets.token_hex(16)


def fingerprint(value: str) -> str:
    """A short public handle for a certificate: tells two apart without revealing either."""
    return hashlib.sha256(value.encode()).hexdigest()[:8]


class ProjectQuerySet(models.QuerySet):
    def active(self):
        return self.filter(archived_at__isnull=True)

    def archived(self):
        return self.filter(archived_at__isnull=False)


class Project(models.Model):
    """A project of an organization, identified to clients by its App ID."""

    organization_path = "organization"  # see accounts.access.restrict
    project_path = "pk"

    class UseCase(models.TextChoices):
        SOCIAL = "social", "Social"
        EDUCATION = "education", "Education"
        ENTERTAINMENT = "entertainment", "Entertainment"
        GAMING = "gaming", "Gaming"
        LIVE_SHOPPING = "live_shopping", "Live shopping"
        HEALTHCARE = "healthcare", "Healthcare"
        ENTERPRISE = "enterprise", "Enterprise and meetings"
        IOT = "iot", "IoT"
        OTHER = "other", "Other"

    class Region(models.TextChoices):
        GLOBAL = "global", "Global"
        NORTH_AMERICA = "north_america", "North America"
        EUROPE = "europe", "Europe"
        ASIA_PACIFIC = "asia_pacific", "Asia Pacific"
        MAINLAND_CHINA = "mainland_china", "Mainland China"
        INDIA = "india", "India"
        JAPAN = "japan", "Japan"

    class Stage(models.TextChoices):
        NOT_SPECIFIED = "not_specified", "Not specified"
        TESTING = "testing", "Testing"
        LIVE = "live", "Live"

    class Mechanism(models.TextChoices):
        APP_ID = "app_id", "App ID only"
        SECURED = "secured", "Secured: App ID + Token"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(max_length=255)
    app_id = models.CharField("App ID", max_length=32, unique=True, default=new_app_id)
    project_id = models.CharField(
        "project ID", max_length=16, unique=True, default=new_project_id, help_text="Used by the RESTful API."
    )
    use_case = models.CharField(max_length=20, choices=UseCase.choices, default=UseCase.OTHER)
    region = models.CharField("data center", max_length=20, choices=Region.choices, default=Region.GLOBAL)
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.NOT_SPECIFIED)
    enabled = models.BooleanField(default=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    mechanism = models.CharField("authentication", max_length=10, choices=Mechanism.choices, default=Mechanism.SECURED)
    # Bumped by every certificate operation: a form carries the version it was rendered with, so an action
    # on a stale page (someone rotated meanwhile) is refused instead of acting on the new state.
    certificates_version = models.PositiveIntegerField(default=0)
    last_rotation_at = models.DateTimeField(null=True, blank=True)
    # Where Agora's on-premise recording reaches the project ("ip:port"), set through the RESTful API
    # (`POST /dev/v1/recording_config`); checked by services.set_recording_server. Null, not "", when
    # unset: Agora's project object says `"recording_server": null`.
    recording_server = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    # Roles whose data scope is "selected projects" and that include this project.
    roles = models.ManyToManyField(Role, blank=True, related_name="projects")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="project_name_unique_in_org"),
        ]
        indexes = [models.Index(fields=["organization", "archived_at"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @property
    def status_label(self) -> str:
        return "Enabled" if self.enabled else "Disabled"

    def certificate(self, slot: str) -> "Certificate | None":
        return next((c for c in self.certificates.all() if c.slot == slot), None)

    @property
    def primary(self) -> "Certificate | None":
        return self.certificate(Certificate.Slot.PRIMARY)

    @property
    def secondary(self) -> "Certificate | None":
        return self.certificate(Certificate.Slot.SECONDARY)

    @property
    def app_id_masked(self) -> str:
        return f"{self.app_id[:4]}{'•' * 8}"

    @property
    def accepts_app_id_only(self) -> bool:
        """Clients without a token may join (App ID only, or during the switch to tokens)."""
        return self.mechanism == self.Mechanism.APP_ID


class Certificate(models.Model):
    """One App Certificate slot of a project. The value is encrypted at rest.

    A swap exchanges the contents (value, fingerprint, dates) of the two slots, so each slot keeps its row.
    """

    organization_path = "project__organization"
    project_path = "project"

    class Slot(models.TextChoices):
        PRIMARY = "primary", "Primary"
        SECONDARY = "secondary", "Secondary"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="certificates")
    slot = models.CharField(max_length=10, choices=Slot.choices)
    value = EncryptedTextField()
    fingerprint = models.CharField(max_length=8)
    enabled = models.BooleanField(default=True)
    value_created_at = models.DateTimeField(default=timezone.now)
    # Set when this value was moved out of the primary slot by a swap: it is the certificate being retired.
    retired_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["project", "slot"]
        constraints = [
            models.UniqueConstraint(fields=["project", "slot"], name="one_certificate_per_slot"),
        ]

    def __str__(self) -> str:
        return f"{self.get_slot_display()} certificate of {self.project} ({self.fingerprint})"

    def set_value(self, value: str) -> None:
        self.value = value
        self.fingerprint = fingerprint(value)
        self.value_created_at = timezone.now()
        self.retired_at = None


class CertificateUse(models.Model):
    """Tokens the console signed with one certificate value in one hour: how many, and the latest expiry.

    Keyed by the value's fingerprint, not the slot, so the record follows the value through a swap. Tokens
    themselves are never stored (projects/certificate_use.py).
    """

    organization_path = "project__organization"
    project_path = "project"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="certificate_uses")
    fingerprint = models.CharField(max_length=8)
    hour = models.DateTimeField()  # the start of the hour (UTC) the tokens were issued in
    tokens = models.PositiveIntegerField(default=0)
    last_expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "fingerprint", "hour"], name="one_use_row_per_hour"),
        ]

    def __str__(self) -> str:
        return f"{self.tokens} tokens signed with {self.fingerprint} at {self.hour:%Y-%m-%d %H}:00"
