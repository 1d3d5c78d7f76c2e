from django.contrib import admin

from .models import PriceBook


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
