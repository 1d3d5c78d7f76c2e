"""State changes of billing that pages start: price books and billing details. Each runs in one
transaction under the organization's row lock, which the month close also takes while it issues a
statement: under it, "already billed" and "used by a statement" cannot change. (The ledger's entries
are in ledger.py, the month close in closing.py.)"""

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from accounts import audit
from accounts.models import Membership, Organization
from console.refusals import Immutable, RuleViolation

from .alerts import check_alerts
from .models import PRICE_FIELDS, BillingProfile, PriceBook
from .price_book_forms import effective_from_problem, plain_price

# Registered with accounts.audit when the app starts (apps.py).
AUDIT_ACTIONS = {
    "billing.price_book_created": "Price book created",
    "billing.price_book_changed": "Price book changed",
    "billing.price_book_deleted": "Price book deleted",
    "billing.details_changed": "Billing details changed",
}


def snapshot(book: PriceBook) -> dict:
    """The book's numbers for the audit log (JSON-safe)."""
    values = {"effective_from": f"{book.effective_from:%Y-%m-%d}"}
    values.update({field: plain_price(getattr(book, field)) for field in PRICE_FIELDS.values()})
    values.update(free_minutes=book.free_minutes, discount_bands=book.discount_bands)
    return values


@transaction.atomic
def save_price_book(actor: Membership, book: PriceBook | None, values: dict, *, request=None) -> PriceBook:
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
def delete_price_book_of(actor: Membership, book: PriceBook, *, request=None) -> None:
    """Immutable when a statement uses the book (also when one was issued a moment ago)."""
    organization = Organization.objects.select_for_update().get(pk=actor.organization_id)
    book = PriceBook.objects.filter(pk=book.pk, organization=organization).first()
    if book is None:
        return  # deleted by someone else meanwhile
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
def save_billing_details(actor: Membership, data: dict, changed: list[str], *, request=None) -> BillingProfile:
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
