"""The one changelist: search, filters, date range, sortable columns, pagination and an empty state.

A list page declares its columns, search fields and filters, and a template for one row; the shared
template `console/changelist.html` renders the rest. The filtered, sorted (unpaginated) queryset is
`changelist.queryset`, which exports reuse so that a CSV holds exactly what the page shows.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_date


@dataclass(frozen=True)
class Column:
    label: str
    sort: str | None = None  # model field to order by when the header is clicked


@dataclass(frozen=True)
class Filter:
    param: str
    label: str
    lookup: str
    choices: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Changelist:
    request: object
    queryset: QuerySet
    columns: list[Column]
    row_template: str
    search_fields: tuple[str, ...] = ()
    search_placeholder: str = "Search"
    filters: list[Filter] = field(default_factory=list)
    date_field: str | None = None  # enables the "from"/"to" date range inputs
    default_ordering: tuple[str, ...] = ()
    empty_title: str = "Nothing here yet"
    empty_text: str = ""
    per_page: int = 25
    toolbar_links: list[dict] = field(default_factory=list)  # e.g. [{"label": "Export CSV", "url": ...}]
    empty_hint: str = ""  # what to try when nothing shows, filtered or not
    clear_url: str = "?"  # where "Clear the filters" leads
    table_class: str = ""  # a class of the page's own stylesheet for the table
    sort_note: str = ""  # a word on the order chosen (shown above the table)

    def __post_init__(self):
        self.params = self.request.GET
        self.errors: list[str] = []
        self.search = self.params.get("q", "").replace("\x00", "").strip()  # PostgreSQL refuses NUL in text
        self.queryset = self._sorted(self._date_range(self._filtered(self._searched(self.queryset))))
        self.page = Paginator(self.queryset, self.per_page).get_page(self.params.get("page"))

    # Building the queryset --------------------------------------------------------------------

    def _searched(self, queryset):
        if not self.search or not self.search_fields:
            return queryset
        condition = Q()
        for name in self.search_fields:
            condition |= Q(**{f"{name}__icontains": self.search})
        return queryset.filter(condition)

    def _filtered(self, queryset):
        for spec in self.filters:
            value = self.params.get(spec.param, "")
            if value in dict(spec.choices):
                queryset = queryset.filter(**{spec.lookup: value})
        return queryset

    def _date_range(self, queryset):
        if not self.date_field:
            return queryset
        start, end = self._date_param("from"), self._date_param("to")
        if start:
            queryset = queryset.filter(**{f"{self.date_field}__gte": _start_of(start)})
        if end and end < date.max:  # date.max has no next day; it bounds nothing
            queryset = queryset.filter(**{f"{self.date_field}__lt": _start_of(end + timedelta(days=1))})
        return queryset

    def _date_param(self, name) -> date | None:
        return date_param(self.params, name, self.errors)

    def _sorted(self, queryset):
        sortable = {column.sort for column in self.columns if column.sort}
        order = self.params.get("o", "")
        if order.lstrip("-") in sortable:
            return queryset.order_by(order, "-pk")
        return queryset.order_by(*self.default_ordering) if self.default_ordering else queryset

    # What the template needs ------------------------------------------------------------------

    def url(self, **changes) -> str:
        """This page's query string with some parameters changed (None removes one); resets the page."""
        params = self.params.copy()
        params.pop("page", None)
        for key, value in changes.items():
            if value is None:
                params.pop(key, None)
            else:
                params[key] = value
        return "?" + params.urlencode()

    def headers(self) -> list[dict]:
        current = self.params.get("o", "")
        headers = []
        for column in self.columns:
            header = {"label": column.label, "url": None, "direction": None}
            if column.sort:
                ascending = current == column.sort
                header["direction"] = "asc" if ascending else "desc" if current == f"-{column.sort}" else None
                header["url"] = self.url(o=f"-{column.sort}" if ascending else column.sort)
            headers.append(header)
        return headers

    def filter_widgets(self) -> list[dict]:
        return [
            {
                "param": spec.param,
                "label": spec.label,
                "choices": spec.choices,
                "value": self.params.get(spec.param, ""),
            }
            for spec in self.filters
        ]

    @property
    def is_filtered(self) -> bool:
        names = ["q", "from", "to"] + [spec.param for spec in self.filters]
        return any(self.params.get(name) for name in names)

    @property
    def previous_url(self) -> str | None:
        return self._page_url(self.page.previous_page_number()) if self.page.has_previous() else None

    @property
    def next_url(self) -> str | None:
        return self._page_url(self.page.next_page_number()) if self.page.has_next() else None

    def _page_url(self, number: int) -> str:
        params = self.params.copy()
        params["page"] = number
        return "?" + params.urlencode()


def date_param(params, name: str, warnings: list[str]) -> date | None:
    """A YYYY-MM-DD query parameter, or None; a bad value adds a warning for the page instead of failing."""
    raw = params.get(name, "").strip()
    if not raw:
        return None
    try:
        value = parse_date(raw)
    except ValueError:
        value = None
    if value is None:
        warnings.append(f"Ignored the date {raw[:30]!r}: use the form YYYY-MM-DD.")
    return value


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)
