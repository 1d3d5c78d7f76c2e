import hashlib

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from console.append_only import AppendOnlyModel
from console.crypto import EncryptedTextField
from console.text import TEXT_MAX, length_at_most

from .permissions import MODULES, MODULES_BY_KEY, full_levels


class UserManager(BaseUserManager):
    use_in_migrations = True

    def normalize_email(self, email):
        return (email or "").strip().lower()

    def get_by_natural_key(self, username):
        return self.get(email__iexact=self.normalize_email(username))

    def create_user(self, email, password=None, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        self.vouch_for_address(user)
        return user

    def vouch_for_address(self, user) -> None:
        """Record the user's address as verified and primary. For accounts that do not come from public
        sign-up (an accepted invitation, the operator, a command), where the address is proven already;
        public sign-up leaves it unverified until the emailed link is followed."""
        from allauth.account.models import EmailAddress  # allauth's models load after this app's

        EmailAddress.objects.update_or_create(user=user, email=user.email, defaults={"verified": True, "primary": True})

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person. The email address is the login; the same person may belong to several organizations."""

    email = models.EmailField("email address", unique=True)
    name = models.CharField(max_length=150, blank=True)
    is_staff = models.BooleanField(default=False, help_text="May sign in to the Django admin at /admin/.")
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = User.objects.normalize_email(self.email)

    def get_full_name(self) -> str:
        return self.name or self.email

    def get_short_name(self) -> str:
        return self.name or self.email


class Organization(models.Model):
    """The company account: it owns projects, members, roles, credentials, usage and bills."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=60, unique=True)
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="owned_organizations")
    created_at = models.DateTimeField(default=timezone.now)
    # Written by billing when the balance stays negative; projects and tokens only read it.
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspended_reason = models.CharField(max_length=300, blank=True)
    require_two_factor = models.BooleanField(
        "Require two-factor authentication",
        default=False,
        help_text="Members without a second factor must set one up before they can open this organization. "
        "API credentials are not affected.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None


class Role(models.Model):
    """A set of module levels plus a project scope. Agora calls roles "teams"."""

    organization_path = "organization"  # see accounts.access.restrict

    # Not a column. accounts.middleware.load_membership sets it on the role of each membership it loads
    # (for the pages, and through accounts.api_credentials for the APIs), so that a request reads its project
    # scope once: the pks of the projects a scoped role may see. None when the role sees every project
    # (all_projects), or on a role loaded anywhere else; accounts.access.scope_ids then queries role.projects.
    scoped_project_ids: frozenset[int] | None = None

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="roles")
    name = models.CharField(max_length=60)
    builtin_key = models.CharField(max_length=40, blank=True, help_text="Set for built-in roles, which cannot change.")
    description = models.CharField(max_length=200, blank=True)
    levels = models.JSONField(default=dict, blank=True, help_text='Module key -> level; modules not named are "none".')
    all_projects = models.BooleanField(
        default=True, help_text="Members with this role see every project; otherwise only the selected ones."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-builtin_key", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="role_name_unique_in_org"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_builtin(self) -> bool:
        return bool(self.builtin_key)

    def level(self, module: str) -> str:
        return self.levels.get(module, "none")

    def rank(self, module: str) -> int:
        return MODULES_BY_KEY[module].rank(self.level(module))

    def module_levels(self) -> list[tuple[str, str]]:
        """(module label, level) for display, in module order."""
        levels = full_levels(self.levels)
        return [(module.label, levels[module.key]) for module in MODULES]

    def clean(self) -> None:
        for key, level in self.levels.items():
            module = MODULES_BY_KEY.get(key)
            if module is None or level not in module.levels:
                raise ValidationError(f"Unknown level {level!r} for module {key!r}.")


class Membership(models.Model):
    """A user's place in an organization, through one role."""

    organization_path = "organization"  # see accounts.access.restrict

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="memberships")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["organization__name", "user__email"]
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="one_membership_per_org"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} as {self.role}"

    @property
    def is_owner(self) -> bool:
        return self.organization.owner_id == self.user_id

    def can(self, module: str, level: str = "view") -> bool:
        """True when this member's role holds at least `level` in `module`."""
        return self.role.rank(module) >= MODULES_BY_KEY[module].rank(level)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class InvitationQuerySet(models.QuerySet):
    def pending(self):
        return self.filter(status=Invitation.Status.PENDING, expires_at__gt=timezone.now())


class Invitation(models.Model):
    """An invitation to join an organization with a role. Only a hash of the link's token is stored."""

    organization_path = "organization"  # see accounts.access.restrict

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="invitations")
    invited_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "expires_at"])]

    def __str__(self) -> str:
        return f"Invitation of {self.email} to {self.organization}"

    @property
    def is_usable(self) -> bool:
        return self.status == self.Status.PENDING and self.expires_at > timezone.now()

    def mark_accepted(self, user) -> None:
        self.status = self.Status.ACCEPTED
        self.accepted_at = timezone.now()
        self.accepted_by = user
        self.save(update_fields=["status", "accepted_at", "accepted_by"])

    @property
    def email_has_account(self) -> bool:
        return User.objects.filter(email=self.email).exists()

    @property
    def display_status(self) -> str:
        if self.status == self.Status.PENDING and self.expires_at <= timezone.now():
            return self.Status.EXPIRED.label
        return self.get_status_display()


class AuditEntry(AppendOnlyModel):
    """One security-relevant action. Append-only: saving an existing entry or deleting one raises."""

    organization_path = "organization"  # see accounts.access.restrict

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    organization = models.ForeignKey(
        Organization, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_entries"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_email = models.CharField(max_length=254, blank=True, help_text="Kept when the user is deleted.")
    action = models.CharField(max_length=60, db_index=True)
    target = models.CharField(max_length=255, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)
    details = models.JSONField(default=dict, blank=True)
    # The project an entry is about: a member who sees selected projects only reads the entries about those
    # (accounts.audit.entries_for). Deleting the project empties `project` but not `about_project`, so its
    # entries never pass for organization-level ones.
    project = models.ForeignKey(
        "projects.Project", on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_entries"
    )
    about_project = models.BooleanField(
        default=False, help_text="About a project (kept when the project is deleted); false for organization-level."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["organization", "-created_at"]),
            models.Index(fields=["action", "created_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(project__isnull=True) | models.Q(about_project=True),
                name="auditentry_project_is_about_project",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} {self.target}"


class Notification(models.Model):
    """A message for one member in the console (the bell in the top bar), e.g. a usage alert."""

    organization_path = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="notifications")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True, max_length=TEXT_MAX)
    link = models.CharField(max_length=300, blank=True, help_text="A console path to open, e.g. /billing/.")
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["recipient", "organization", "read_at"])]
        constraints = [length_at_most("body", TEXT_MAX)]

    def __str__(self) -> str:
        return self.title


class ApiCredential(models.Model):
    """A Customer ID / Customer Secret pair for the RESTful APIs (HTTP Basic). It acts for the member who
    created it, with that member's role: removing the member or lowering the role narrows it at once.
    Only a keyed hash of the secret is stored (see accounts.api_credentials); the secret is shown once."""

    organization_path = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_credentials")
    membership = models.ForeignKey(
        "Membership", on_delete=models.CASCADE, related_name="api_credentials", help_text="Acts with this role."
    )
    customer_id = models.CharField(max_length=32, unique=True)
    secret_hash = models.CharField(max_length=64, help_text="HMAC-SHA256 of the secret with a server key.")
    name = models.CharField(max_length=60, blank=True, help_text="What the pair is for, e.g. a script's name.")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    use_count = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.customer_id


class SingleSignOn(models.Model):
    """An organization's OpenID Connect identity provider: members sign in with it (accounts/sso.py)."""

    class Joining(models.TextChoices):
        DEFAULT_ROLE = "default_role", "Anyone from an allowed domain joins with the default role"
        INVITATION = "invitation", "Only people with an invitation join"

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="single_sign_on")
    enabled = models.BooleanField(default=True)
    issuer = models.URLField(
        "Issuer URL",
        max_length=300,
        help_text="The identity provider's issuer, e.g. https://login.example.com; its discovery document is "
        "read from <issuer>/.well-known/openid-configuration.",
    )
    client_id = models.CharField("Client ID", max_length=255)
    client_secret = EncryptedTextField("Client secret")
    allowed_domains = models.TextField(
        help_text="Email domains whose people may sign in with this provider, one per line (example.com)."
    )
    joining = models.CharField(max_length=20, choices=Joining.choices, default=Joining.INVITATION)
    default_role = models.ForeignKey(Role, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    required = models.BooleanField(
        "Require single sign-on",
        default=False,
        help_text="Members must sign in with this provider to open the organization. Admins keep a break-glass "
        "sign-in with their password and a second factor.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Single sign-on of {self.organization}"

    @property
    def domains(self) -> list[str]:
        return [line.strip().lower() for line in self.allowed_domains.splitlines() if line.strip()]

    @property
    def provider_id(self) -> str:
        """The name allauth knows this provider by (one per organization)."""
        return f"org-{self.organization_id}"
