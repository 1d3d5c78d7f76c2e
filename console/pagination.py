"""Cursor pagination for the native API: stable pages while rows are added, and no COUNT over big tables.

Each view names its order with `ordering` (the first field is the cursor's position; later ones only break
ties). `?page_size=` asks for up to MAX_PAGE_SIZE rows; a cursor that does not decode answers 404.
"""

from django.core.exceptions import ValidationError
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


class ConsoleCursorPagination(CursorPagination):
    page_size = PAGE_SIZE
    page_size_query_param = "page_size"
    page_size_query_description = f"Rows per page: {PAGE_SIZE} by default, at most {MAX_PAGE_SIZE}."
    max_page_size = MAX_PAGE_SIZE
    ordering = ("-pk",)

    def get_ordering(self, request, queryset, view):
        ordering = getattr(view, "ordering", None) or self.ordering
        return (ordering,) if isinstance(ordering, str) else tuple(ordering)

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except (ValidationError, ValueError, TypeError, OverflowError):
            # A cursor that decodes but carries a position of the wrong type (crafted by hand).
            raise NotFound(self.invalid_cursor_message) from None
