from django.contrib import admin

from .models import Certificate, Project


class CertificateInline(admin.TabularInline):
    """Slots and states only: certificate values never appear in the admin."""

    model = Certificate
    fields = ["slot", "enabled", "fingerprint", "value_created_at", "retired_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "app_id", "project_id", "mechanism", "enabled", "archived_at"]
    list_filter = ["mechanism", "enabled", "stage"]
    search_fields = ["name", "app_id", "project_id", "organization__name"]
    readonly_fields = [
        "app_id",
        "project_id",
        "mechanism",
        "certificates_version",
        "last_rotation_at",
        "created_at",
        "updated_at",
    ]
    inlines = [CertificateInline]
