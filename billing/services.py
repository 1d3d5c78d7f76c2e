"""State changes of billing that pages start: price books and billing details. Each runs in one
transaction under the organization's row lock, which the month close also takes while it issues a
statement: under it, "already billed" and "used by a statement" cannot change. (The ledger's entries
are in ledger.py, the month close in closing.py.)"""

from datetime import date

from django.db import IntegrityError, transaction
from django.db.models import Max, ProtectedError
from django.http import HttpRequest

from accounts import audit
from accounts.models import Membership, Organization
from console.dates import month_start, next_month
from console.refusals import Immutable, RuleViolation

from .alerts import check_alerts
from .models import PRICE_FIELDS, BillingProfile, PriceBook, Statement
from .pricing import plain_price

# Registered with accounts.audit when the app starts (apps.py).
AUDIT_ACTIONS = {
    "billing.price_book_created": "Price book created",
    "billing.price_book_changed": "Price book changed",
    "billing.price_book_deleted": "Price book deleted",
    "billing.details_changed": "Billing details changed",
}


# Rules of price books -------------------------------------------------------------------------


def last_billed_month(organization: Organization) -> date | None:
    """The month of the organization's latest issued statement (None before its first statement)."""
    return Statement.objects.filter(organization=organization).aggregate(latest=Max("month"))["latest"]


def effective_from_problem(
    organization: Organization, effective_from: date, book: PriceBook | None = None
) -> str | None:
    """Why `effective_from` cannot date a book of `organization` (None when it can). `book` is the one
    being edited, which may keep its own date."""
    if effective_from.day != 1:
        return f"A price book starts on the 1st of a month, for example {month_start(effective_from):%Y-%m-%d}."
    billed = last_billed_month(organization)
    if billed is not None and effective_from <= billed:
        return (
            f"The statement for {billed:%B %Y} is already issued, so every month up to then is billed and a "
            f"price book may not reprice it. Choose {next_month(billed):%Y-%m-%d} or later."
        )
    taken = PriceBook.objects.filter(organization=organization, effective_from=effective_from)
    if book is not None:
        taken = taken.exclude(pk=book.pk)
    if taken.exists():
        return (
            f"Your organization already has a price book from {effective_from:%Y-%m-%d}. "
            "Edit that book, or choose another month."
        )
    return None


def snapshot(book: PriceBook) -> dict:
    """The book's numbers for the audit log (JSON-safe)."""
    values: dict[str, object] = {"effective_from": f"{book.effective_from:%Y-%m-%d}"}
    values.update({field: plain_price(getattr(book, field)) for field in PRICE_FIELDS.values()})
    values.update(free_minutes=book.free_minutes, discount_bands=book.discount_bands)
    return values


@transaction.atomic
def save_price_book(
    actor: Membership, book: PriceBook | None, values: dict, *, request: HttpRequest | None = None
) -> PriceBook:
    """Create a book of the member's organization (`book` None) or change its unused `book`.
    RuleViolation (on effective_from) when the date is taken or billed meanwhile; Immutable when the book is used."""
    organization = Organization.objects.select_for_update().get(pk=actor.organization_id)
    if book is None:
        book, old = PriceBook(organization=organization, currency="USD"), None
    else:
        book = PriceBook.objects.get(pk=book.pk, organization=organization)
        old = snapshot(book)
    problem = effective_from_problem(organization, values["effective_from"], book if book.pk else None)
    if problem:
        raise RuleViolation(problem, field="effective_from")
    for name, value in values.items():
        setattr(book, name, value)
    try:
        with transaction.atomic():
            book.save()  # Immutable when a statement uses the book (the model's guard)
    except IntegrityError as error:  # the same date saved by someone else a moment ago
        problem = f"Your organization already has a price book from {book.effective_from:%Y-%m-%d}."
        raise RuleViolation(problem, field="effective_from") from error
    if old is None:
        audit.record(
            "billing.price_book_created",
            actor=actor,
            request=request,
            organization=organization,
            target=str(book),
            **snapshot(book),
        )
    else:
        audit.record(
            "billing.price_book_changed",
            actor=actor,
            request=request,
            organization=organization,
            target=str(book),
            old=old,
            new=snapshot(book),
        )
    transaction.on_commit(lambda: check_alerts(organization))  # the estimate an alert watches may have changed
    return book


@transaction.atomic
def delete_price_book_of(actor: Membership, book: PriceBook, *, request: HttpRequest | None = None) -> None:
    """Immutable when a statement uses the book (also when one was issued a moment ago)."""
    organization = Organization.objects.select_for_update().get(pk=actor.organization_id)
    current = PriceBook.objects.filter(pk=book.pk, organization=organization).first()
    if current is None:
        return  # deleted by someone else meanwhile
    book = current
    values = snapshot(book)
    try:
        with transaction.atomic():
            book.delete()
    except ProtectedError as error:
        raise Immutable(frozen_message(book, "deleted")) from error
    audit.record(
        "billing.price_book_deleted",
        actor=actor,
        request=request,
        organization=organization,
        target=str(book),
        **values,
    )
    transaction.on_commit(lambda: check_alerts(organization))


def frozen_message(book: PriceBook, done: str) -> str:
    return (
        f"The price book from {book.effective_from:%Y-%m-%d} is used by an issued statement and cannot be {done}. "
        "To change prices, supersede it with a new book with a later effective date."
    )


@transaction.atomic
def save_billing_details(
    actor: Membership, data: dict, changed: list[str], *, request: HttpRequest | None = None
) -> BillingProfile:
    """Create or update the organization's billing profile, under its row lock, and audit the change."""
    organization = Organization.objects.select_for_update().get(pk=actor.organization_id)
    profile, _ = BillingProfile.objects.get_or_create(organization=organization)
    for name, value in data.items():
        setattr(profile, name, value)
    profile.save()
    audit.record(
        "billing.details_changed",
        actor=actor,
        request=request,
        organization=organization,
        target=organization.name,
        fields=changed,
    )
    return profile
