"""Price book pages: the organization's own books (negotiated prices) next to the default list prices.

Rule: books are edited by roles with billing manage; a book used by an issued statement is frozen and is
superseded by a new book with a later effective date. The default book is shown read-only: it is not
the organization's (superusers change it in the Django admin), so its edit and delete URLs answer 404.
"""

from dataclasses import dataclass
from datetime import date

from django.contrib import messages
from django.db.models import Count
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_safe

from accounts.access import get_for_member, member_required, restrict
from console.dates import month_start, next_month, utc_today
from console.navigation import tabs
from console.refusals import Immutable, RuleViolation
from console.views import confirm_then_act, form_data, form_page

from .models import PRICE_FIELDS, PriceBook, parse_bands
from .price_book_forms import TIER_LABELS, PriceBookForm
from .pricing import plain_percent, plain_price
from .services import delete_price_book_of, frozen_message, save_price_book
from .tabs import BILLING_TABS


def section() -> tuple[str, str]:
    return ("Price books", reverse("billing:price_books"))


# Pages -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BookRow:
    book: PriceBook
    prices: list[tuple[str, str]]  # (tier label, price) in tier order
    bands: list[str]
    status: str
    in_force: bool
    statement_count: int | None  # None for the default book (its statements are other organizations' too)

    @property
    def editable(self) -> bool:
        return self.statement_count == 0


def band_lines(book: PriceBook) -> list[str]:
    try:
        bands = parse_bands(book.discount_bands)
    except ValueError:
        return ["(unreadable)"]
    return [f"{start:,}+ min: {plain_percent(percent)}%" for start, percent in bands]


def book_row(book: PriceBook, in_force: PriceBook | None, month: date) -> BookRow:
    if in_force is not None and book.pk == in_force.pk:
        status = "In force"
    elif book.effective_from > month:
        status = "Scheduled"
    elif book.organization_id is None and in_force is not None and in_force.organization_id is not None:
        status = "Overridden"  # by the organization's own book in force
    else:
        status = "Superseded"
    return BookRow(
        book=book,
        prices=[(TIER_LABELS[tier], plain_price(getattr(book, field))) for tier, field in PRICE_FIELDS.items()],
        bands=band_lines(book),
        status=status,
        in_force=status == "In force",
        statement_count=getattr(book, "statement_count", None),
    )


@member_required("billing")
@require_safe
def price_books(request):
    membership = request.membership
    month = month_start(utc_today())
    in_force = PriceBook.in_force(membership.organization, month)
    own = restrict(PriceBook, membership).annotate(statement_count=Count("statements")).order_by("-effective_from")
    defaults = PriceBook.objects.filter(organization__isnull=True).order_by("-effective_from")
    context = {
        "billing_tabs": tabs(request, "price_books", BILLING_TABS),
        "month": month,
        "in_force": book_row(in_force, in_force, month) if in_force else None,
        "own_rows": [book_row(book, in_force, month) for book in own],
        "default_rows": [book_row(book, in_force, month) for book in defaults],
        "can_manage": membership.can("billing", "manage"),
    }
    return render(request, "billing/price_books.html", context)


def template_book(request) -> PriceBook | None:
    """The values a new book starts from: the own book named by ?from= (superseding it), else the book in
    force this month (own or default)."""
    source = request.GET.get("from", "")
    if source.isascii() and source.isdigit():
        book = restrict(PriceBook, request.membership).filter(pk=int(source)).first()
        if book is not None:
            return book
    return PriceBook.in_force(request.membership.organization, month_start(utc_today()))


FORM_INTRO = (
    "Prices are in USD per 1,000 minutes. A book applies from its effective month until a later book of your "
    "organization takes over; without one, the list prices apply. Once an issued statement uses a book, it is "
    "frozen: change prices later by adding a book with a later effective date."
)


@member_required("billing", "manage")
@require_http_methods(["GET", "POST"])
def create_price_book(request):
    organization = request.membership.organization
    form = PriceBookForm(
        form_data(request),
        organization=organization,
        template=template_book(request),
        effective_from=next_month(utc_today()),
    )
    if request.method == "POST" and form.is_valid():
        try:
            book = save_price_book(request.membership, None, form.values(), request=request)
        except RuleViolation as refused:
            form.add_error(refused.field, str(refused))
        else:
            messages.success(request, f"Price book from {book.effective_from:%Y-%m-%d} created.")
            return redirect("billing:price_books")
    return form_page(
        request,
        form,
        title="New price book",
        submit_label="Create price book",
        cancel_url=reverse("billing:price_books"),
        intro=FORM_INTRO,
        parent=section(),
    )


@member_required("billing", "manage")
@require_http_methods(["GET", "POST"])
def edit_price_book(request, pk):
    book = get_for_member(request.membership, PriceBook, pk=pk)
    if book.is_used:
        if request.method == "POST":
            messages.error(request, frozen_message(book, "changed"))
            return redirect("billing:edit_price_book", pk=book.pk)
        return frozen_page(request, book)
    form = PriceBookForm(form_data(request), organization=request.membership.organization, book=book)
    if request.method == "POST" and form.is_valid():
        try:
            book = save_price_book(request.membership, book, form.values(), request=request)
        except Immutable:  # a statement was issued with it between the check above and now
            messages.error(request, frozen_message(book, "changed"))
            return redirect("billing:edit_price_book", pk=book.pk)
        except PriceBook.DoesNotExist:  # deleted by someone else meanwhile
            messages.error(request, "This price book was deleted meanwhile; nothing was saved.")
            return redirect("billing:price_books")
        except RuleViolation as refused:
            form.add_error(refused.field, str(refused))
        else:
            messages.success(request, f"Price book from {book.effective_from:%Y-%m-%d} saved.")
            return redirect("billing:price_books")
    return form_page(
        request,
        form,
        title=f"Edit the price book from {book.effective_from:%Y-%m-%d}",
        submit_label="Save price book",
        cancel_url=reverse("billing:price_books"),
        intro=FORM_INTRO,
        parent=section(),
    )


def frozen_page(request, book: PriceBook):
    month = month_start(utc_today())
    context = {
        "row": book_row(book, PriceBook.book_for(book.organization, month), month),
        "statement_count": book.statements.count(),
        "parent": section(),
    }
    return render(request, "billing/price_book_frozen.html", context)


@member_required("billing", "manage")
@require_http_methods(["GET", "POST"])
def delete_price_book(request, pk):
    book = get_for_member(request.membership, PriceBook, pk=pk)
    if book.is_used:
        messages.error(request, frozen_message(book, "deleted"))
        return redirect("billing:price_books")
    return confirm_then_act(
        request,
        act=lambda: delete_price_book_of(request.membership, book, request=request),
        done=f"Price book from {book.effective_from:%Y-%m-%d} deleted.",
        title=f"Delete the price book from {book.effective_from:%Y-%m-%d}?",
        message="The book is deleted for good. No statement uses it yet, so no issued bill changes.",
        consequences=[
            "Months from its effective date are priced with the book before it, or with the list prices "
            "when your organization has no earlier book.",
            "If it is in force, this month's bill estimate changes at once.",
        ],
        action_label="Delete price book",
        cancel_url=reverse("billing:price_books"),
        parent=section(),
    )
