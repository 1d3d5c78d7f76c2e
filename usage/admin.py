from django.contrib import admin

from .models import DailyUsage, ProjectMapping, PullRun, Upstream


@admin.register(Upstream)
class UpstreamAdmin(admin.ModelAdmin):
    """The Customer Secret is never shown here; it is set on the console's usage settings page."""

    list_display = ["organization", "base_url", "customer_id", "last_checked_at", "last_check_result"]
    exclude = ["customer_secret"]
    readonly_fields = ["organization", "last_checked_at", "last_check_result", "updated_at"]
    search_fields = ["organization__name", "customer_id"]

    def has_add_permission(self, request):
        return False


@admin.register(ProjectMapping)
class ProjectMappingAdmin(admin.ModelAdmin):
    list_display = ["project", "upstream_project_id", "matched_automatically", "updated_at"]
    search_fields = ["project__name", "upstream_project_id"]


@admin.register(DailyUsage)
class DailyUsageAdmin(admin.ModelAdmin):
    """Read-only: usage comes from pulls, which replace rows; hand edits would be overwritten or wrong."""

    list_display = ["project", "date", "business", "audio", "video_hd", "video_full_hd", "pulled_at"]
    list_filter = ["business"]
    date_hierarchy = "date"
    search_fields = ["project__name", "project__project_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PullRun)
class PullRunAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "organization",
        "project",
        "kind",
        "trigger",
        "status",
        "windows_done",
        "rows_written",
    ]
    list_filter = ["kind", "status", "trigger"]  # usage, and network's channel and call pulls

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
