from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect

from console.forms import ModelForm

from .models import BillingProfile, PriceBook, SellerProfile, Statement, StatementLine, Transaction, UsageAlert


@admin.register(PriceBook)
class PriceBookAdmin(admin.ModelAdmin):
    """Prices per 1,000 minutes. To change prices, add a book with a later effective date."""

    list_display = [
        "__str__",
        "organization",
        "effective_from",
        "currency",
        "audio_price",
        "video_hd_price",
        "video_full_hd_price",
        "video_2k_price",
        "video_2k_plus_price",
        "free_minutes",
    ]
    list_filter = ["currency"]
    date_hierarchy = "effective_from"
    search_fields = ["organization__name", "organization__slug"]
    autocomplete_fields = ["organization"]
    readonly_fields = ["created_at"]

    def has_change_permission(self, request, obj=None):
        # A book used by an issued statement is frozen: supersede it with a later effective date.
        return super().has_change_permission(request, obj) and not (obj is not None and obj.is_used)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj is not None and obj.is_used)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Bills and the ledger are append-only; the console's pages and services write them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class StatementLineInline(admin.TabularInline):
    model = StatementLine
    extra = 0

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Statement)
class StatementAdmin(ReadOnlyAdmin):
    list_display = ["number", "organization", "month", "issued_at", "due_date", "total", "currency"]
    search_fields = ["number", "organization__name", "organization__slug"]
    date_hierarchy = "month"
    inlines = [StatementLineInline]


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = ["occurred_on", "organization", "kind", "amount", "currency", "method", "reference"]
    list_filter = ["kind", "method"]
    search_fields = ["organization__name", "organization__slug", "reference", "reason"]
    date_hierarchy = "occurred_on"


@admin.register(BillingProfile)
class BillingProfileAdmin(admin.ModelAdmin):
    list_display = ["organization", "company_name", "country", "billing_email"]
    search_fields = ["organization__name", "company_name"]


@admin.register(UsageAlert)
class UsageAlertAdmin(admin.ModelAdmin):
    list_display = ["organization", "metric", "threshold", "created_at"]
    list_filter = ["metric"]


class SellerProfileForm(ModelForm):  # the console's text rules: one-line fields refuse control characters
    class Meta:
        model = SellerProfile
        fields = ["legal_name", "address", "tax_id", "payment_instructions", "bank_details", "footer"]


@admin.register(SellerProfile)
class SellerProfileAdmin(admin.ModelAdmin):
    """The seller printed on every invoice of the installation: superusers only (staff with model permissions
    included are kept out), one row, never deleted (invoices would lose their seller)."""

    form = SellerProfileForm
    readonly_fields = ["updated_at"]

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return request.user.is_superuser and not SellerProfile.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        """A list of one row says nothing: open its form, or the add form before it exists."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if SellerProfile.objects.exists():
            return redirect("admin:billing_sellerprofile_change", 1)
        return redirect("admin:billing_sellerprofile_add")
