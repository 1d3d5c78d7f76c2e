import secrets

from django.db import models
from django.utils import timezone

from accounts.models import Organization, Role


def new_app_id() -> str:
    return secrets.token_hex(16)


class Project(models.Model):
    """A project of an organization, identified to clients by its App ID."""

    organization_path = "organization"  # see accounts.access.restrict
    project_path = "pk"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(max_length=255)
    app_id = models.CharField("App ID", max_length=32, unique=True, default=new_app_id)
    # Roles whose data scope is "selected projects" and that include this project.
    roles = models.ManyToManyField(Role, blank=True, related_name="projects")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="project_name_unique_in_org"),
        ]

    def __str__(self) -> str:
        return self.name
