"""Price book pages: list, create, edit, delete; frozen once an issued statement uses a book."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db.models import ProtectedError
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEntry
from accounts.services import create_role
from billing.closing import close_month
from billing.estimate import month_to_date
from billing.models import PRICE_FIELDS, PriceBook, Statement
from billing.pricing import LIST_PRICES, price_month
from billing.services import save_price_book
from conftest import run_together
from console.dates import next_month
from console.refusals import Immutable, RuleViolation
from usage.models import DailyUsage

D = Decimal
LIST_URL = "/billing/price-books/"
CREATE_URL = "/billing/price-books/new/"


def this_month() -> date:
    return timezone.now().date().replace(day=1)


def months_ago(count: int) -> date:
    month = this_month()
    for _ in range(count):
        month = (month - timedelta(days=1)).replace(day=1)
    return month


def form(**changes) -> dict:
    data = {
        "effective_from": f"{next_month(this_month()):%Y-%m-%d}",
        "audio_price": "0.5",
        "video_hd_price": "2",
        "video_full_hd_price": "5.25",
        "video_2k_price": "10.1234",
        "video_2k_plus_price": "20",
        "free_minutes": "5000",
        "discount_bands": "100000:5\n500,000: 7.5%",
    }
    data.update(changes)
    return data


def own_book(organization, effective_from: date, **values) -> PriceBook:
    fields = {field: D("1.00") for field in PRICE_FIELDS.values()}
    fields.update(values)
    return PriceBook.objects.create(organization=organization, effective_from=effective_from, **fields)


def issue_statement(org, month: date) -> Statement:
    """Usage in `month` (already ended), closed the way the 1st-of-month job does it."""
    DailyUsage.objects.create(project=org.projects[0], date=month.replace(day=10), audio=20_000 * 60)
    (statement,) = close_month(month, organization=org.organization, today=next_month(month))
    return statement


def url(name: str, book: PriceBook) -> str:
    return reverse(f"billing:{name}", kwargs={"pk": book.pk})


def page_text(response) -> str:
    return response.content.decode()


# The model's guard --------------------------------------------------------------------------------


def test_a_used_book_cannot_be_saved_or_deleted(acme):
    book = own_book(acme.organization, months_ago(3))
    book.audio_price = D("0.70")
    book.save()  # unused: still editable
    statement = issue_statement(acme, months_ago(2))
    assert statement.price_book == book
    book.audio_price = D("0.10")
    with pytest.raises(Immutable, match="supersede it with a new book with a later effective date"):
        book.save()
    with pytest.raises(ProtectedError):
        book.delete()
    assert PriceBook.objects.get(pk=book.pk).audio_price == D("0.70")


# List ---------------------------------------------------------------------------------------------


def test_the_list_shows_the_book_in_force_own_books_and_the_list_prices(acme, client_for):
    used = own_book(acme.organization, months_ago(3), audio_price=D("0.8912"))
    issue_statement(acme, months_ago(2))
    own_book(acme.organization, next_month(this_month()), audio_price=D("0.40"), discount_bands=[])
    html = page_text(client_for(acme.users["finance"]).get(LIST_URL))
    assert "In force this month" in html
    assert f"Your organization's price book from <strong>{used.effective_from:%Y-%m-%d}</strong>" in html
    assert "0.8912" in html and "0.40" in html
    assert "1: frozen" in html and "None yet" in html
    assert "Scheduled" in html and "Superseded" not in html
    assert "100,000+ min: 5%" in html
    # The default book: read-only, with its list prices, not applied while the own book is in force.
    assert "List prices" in html and "35.99" in html
    assert "Overridden" in html
    assert "New price book" in html
    assert f'href="{url("edit_price_book", used)}">View</a>' in html
    assert f"?from={used.pk}" in html


def test_without_an_own_book_the_list_prices_apply(acme, client_for):
    html = page_text(client_for(acme.users["finance"]).get(LIST_URL))
    assert "No price book of your own" in html
    assert "Without one, the list prices below apply to every month" in html
    assert "The <strong>list prices</strong>" in html


def test_another_organizations_books_are_not_listed(acme, globex, client_for):
    own_book(globex.organization, date(2030, 1, 1), audio_price=D("0.1234"))
    html = page_text(client_for(acme.users["admin"]).get(LIST_URL))
    assert "0.1234" not in html and "No price book of your own" in html


# Create -------------------------------------------------------------------------------------------


def test_a_new_book_prices_the_estimate(acme, client_for):
    today = timezone.now().date()
    DailyUsage.objects.create(project=acme.projects[0], date=today, audio=3_000 * 60, video_hd=1_000 * 60)
    assert month_to_date(acme.organization, today).priced.total == D("0.00")  # under the 10,000 free minutes
    response = client_for(acme.users["finance"]).post(
        CREATE_URL,
        form(effective_from=f"{this_month():%Y-%m-%d}", audio_price="1", video_hd_price="4", free_minutes="0"),
    )
    assert response.status_code == 302 and response["Location"] == LIST_URL
    book = PriceBook.objects.get(organization=acme.organization)
    assert (book.currency, book.free_minutes, book.discount_bands) == ("USD", 0, [[100_000, 5], [500_000, 7.5]])
    assert book.video_2k_price == D("10.1234")
    estimate = month_to_date(acme.organization, today)
    assert estimate.book == book
    assert estimate.priced.total == D("7.00")  # 3,000 x 1 / 1000 + 1,000 x 4 / 1000
    entry = AuditEntry.objects.get(action="billing.price_book_created")
    assert entry.organization == acme.organization and entry.actor == acme.users["finance"]
    assert entry.details["audio_price"] == "1.00" and entry.details["effective_from"] == f"{this_month():%Y-%m-%d}"


def test_the_form_starts_from_the_book_in_force(acme, client_for):
    client = client_for(acme.users["finance"])
    html = page_text(client.get(CREATE_URL))
    assert 'value="0.99"' in html and 'value="35.99"' in html
    assert "100000:5\n500000:7\n1000000:10" in html
    assert f'value="{next_month(this_month()):%Y-%m-%d}"' in html
    assert 'value="USD"' in html and "disabled" in html  # shown, not editable
    own = own_book(acme.organization, months_ago(1), audio_price=D("0.6"), discount_bands=[[50_000, 2.5]])
    html = page_text(client.get(CREATE_URL))
    assert 'value="0.60"' in html and "50000:2.5" in html
    # ?from= another organization's book or nonsense falls back to the book in force.
    assert 'value="0.60"' in page_text(client.get(f"{CREATE_URL}?from=x{own.pk}"))


def test_the_currency_cannot_be_posted(acme, client_for):
    client_for(acme.users["finance"]).post(CREATE_URL, form(currency="EUR"))
    assert PriceBook.objects.get(organization=acme.organization).currency == "USD"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"effective_from": "2030-01-15"}, "starts on the 1st of a month, for example 2030-01-01"),
        ({"effective_from": "2030-02-30"}, "Enter a valid date."),
        ({"effective_from": ""}, "This field is required."),
        ({"audio_price": "-0.01"}, "greater than or equal to 0"),
        ({"video_hd_price": "1.23456"}, "no more than 4 decimal places"),
        ({"video_2k_price": "NaN"}, "Enter a number."),
        ({"video_2k_price": "12345678"}, "6 digits before the decimal point"),
        ({"free_minutes": "-1"}, "greater than or equal to 0"),
        ({"free_minutes": "99999999999"}, "less than or equal to"),
        ({"discount_bands": "100000"}, "Line 1 (100000): write the band as min_minutes:percent"),
        ({"discount_bands": "100000:5\nfive:hundred"}, "Line 2 (five:hundred)"),
        ({"discount_bands": "100000:5.123"}, "at most 2 decimals"),
        ({"discount_bands": "500000:5\n100000:7"}, "must start after 500000"),
        ({"discount_bands": "100000:7\n500000:5"}, "must not be below the previous"),
        ({"discount_bands": "100000:101"}, "percent must be between 0 and 100"),
        ({"discount_bands": "0:5"}, "must start after 0"),
        ({"discount_bands": "1:1\n" * 21}, "At most 20 discount bands."),
    ],
)
def test_bad_input_gets_a_form_error(acme, client_for, changes, message):
    response = client_for(acme.users["finance"]).post(CREATE_URL, form(**changes))
    assert response.status_code == 200
    assert message in page_text(response)
    assert not PriceBook.objects.filter(organization=acme.organization).exists()


def test_an_empty_post_lists_what_is_missing(acme, client_for):
    response = client_for(acme.users["finance"]).post(CREATE_URL, {})
    assert response.status_code == 200 and page_text(response).count("This field is required.") == 7


def test_no_discount_bands_is_allowed(acme, client_for):
    client_for(acme.users["finance"]).post(CREATE_URL, form(discount_bands=" \n"))
    assert PriceBook.objects.get(organization=acme.organization).discount_bands == []


def test_one_book_per_month(acme, client_for):
    own_book(acme.organization, date(2030, 1, 1))
    response = client_for(acme.users["finance"]).post(CREATE_URL, form(effective_from="2030-01-01"))
    assert response.status_code == 200
    assert "Your organization already has a price book from 2030-01-01" in page_text(response)
    assert PriceBook.objects.filter(organization=acme.organization).count() == 1


def test_a_billed_month_cannot_be_repriced(acme, client_for):
    own_book(acme.organization, months_ago(4))
    billed = months_ago(2)
    issue_statement(acme, billed)
    client = client_for(acme.users["finance"])
    for month in (months_ago(3), billed):
        response = client.post(CREATE_URL, form(effective_from=f"{month:%Y-%m-%d}"))
        assert response.status_code == 200
        assert f"The statement for {billed:%B %Y} is already issued" in page_text(response)
        assert f"Choose {next_month(billed):%Y-%m-%d} or later" in page_text(response)
    assert client.post(CREATE_URL, form(effective_from=f"{next_month(billed):%Y-%m-%d}")).status_code == 302


# Edit ---------------------------------------------------------------------------------------------


def test_an_unused_book_can_be_edited(acme, client_for):
    book = own_book(acme.organization, date(2030, 1, 1))
    client = client_for(acme.users["finance"])
    html = page_text(client.get(url("edit_price_book", book)))
    assert 'value="2030-01-01"' in html and 'value="1.00"' in html
    response = client.post(url("edit_price_book", book), form(effective_from="2030-02-01", audio_price="0.75"))
    assert response.status_code == 302
    book.refresh_from_db()
    assert (book.effective_from, book.audio_price) == (date(2030, 2, 1), D("0.75"))
    entry = AuditEntry.objects.get(action="billing.price_book_changed")
    assert entry.details["old"]["audio_price"] == "1.00" and entry.details["new"]["audio_price"] == "0.75"


def test_an_edited_book_may_keep_its_date(acme, client_for):
    book = own_book(acme.organization, date(2030, 1, 1))
    response = client_for(acme.users["finance"]).post(url("edit_price_book", book), form(effective_from="2030-01-01"))
    assert response.status_code == 302


def test_a_used_book_is_shown_frozen_and_cannot_be_changed(acme, client_for):
    book = own_book(acme.organization, months_ago(3), audio_price=D("0.66"))
    issue_statement(acme, months_ago(2))
    client = client_for(acme.users["finance"])
    html = page_text(client.get(url("edit_price_book", book)))
    assert "This book is frozen: 1 issued statement uses it" in html
    assert f'href="{CREATE_URL}?from={book.pk}">Supersede with a new book</a>' in html
    assert "<form" not in html.split('class="content"')[1]  # nothing to submit
    response = client.post(url("edit_price_book", book), form(effective_from="2030-01-01", audio_price="0.01"))
    assert response.status_code == 302 and response["Location"] == url("edit_price_book", book)
    messages = page_text(client.get(response["Location"]))
    assert "is used by an issued statement and cannot be changed" in messages
    book.refresh_from_db()
    assert (book.effective_from, book.audio_price) == (months_ago(3), D("0.66"))
    assert not AuditEntry.objects.filter(action="billing.price_book_changed").exists()
    # Superseding: the form starts from the frozen book's prices, dated after the billed month.
    html = page_text(client.get(f"{CREATE_URL}?from={book.pk}"))
    assert 'value="0.66"' in html


def book_values(effective_from: date, price: str = "0.01") -> dict:
    values = {"effective_from": effective_from, "free_minutes": 0, "discount_bands": []}
    values.update({field: D(price) for field in PRICE_FIELDS.values()})
    return values


def test_a_statement_issued_during_an_edit_wins(acme):
    """The form was valid when the book was unused; the save under the lock finds it used."""
    book = own_book(acme.organization, months_ago(3))
    issue_statement(acme, months_ago(2))
    with pytest.raises(Immutable):
        save_price_book(acme.membership("finance"), book, book_values(date(2030, 1, 1)))
    assert PriceBook.objects.get(pk=book.pk).effective_from == months_ago(3)


def statement_matches_its_book(statement: Statement) -> bool:
    """The issued total is what the statement's book, as stored now, gives for the billed minutes."""
    statement.price_book.refresh_from_db()
    minutes = {line.tier: line.minutes for line in statement.lines.filter(kind="usage")}
    return price_month(minutes, statement.price_book.prices()).total == statement.usage_total


def list_price_book() -> PriceBook:
    """The default book of the data migration (a transactional test before this one may have flushed it)."""
    prices = {field: getattr(LIST_PRICES, tier) for tier, field in PRICE_FIELDS.items()}
    return PriceBook.objects.get_or_create(organization=None, effective_from=date(2000, 1, 1), defaults=prices)[0]


@pytest.mark.django_db(transaction=True)
def test_a_book_created_while_its_month_closes_never_reprices_the_statement(postgres, acme):
    list_price_book()
    month = months_ago(1)
    DailyUsage.objects.create(project=acme.projects[0], date=month.replace(day=10), audio=20_000 * 60)
    outcomes = run_together(
        lambda: close_month(month, organization=acme.organization, today=next_month(month)),
        lambda: save_price_book(acme.membership("finance"), None, book_values(month)),
    )
    statement = Statement.objects.get(organization=acme.organization)
    created = PriceBook.objects.filter(organization=acme.organization).first()
    assert outcomes[0] is None
    if created is None:  # the close came first: the month is billed and the book refused
        assert isinstance(outcomes[1], RuleViolation) and statement.price_book.organization is None
    else:  # the book came first: the statement is priced with it
        assert outcomes[1] is None and statement.price_book == created
    assert statement_matches_its_book(statement)


@pytest.mark.django_db(transaction=True)
def test_a_book_edited_while_its_month_closes_never_reprices_the_statement(postgres, acme):
    list_price_book()
    month = months_ago(1)
    book = own_book(acme.organization, month)
    DailyUsage.objects.create(project=acme.projects[0], date=month.replace(day=10), audio=20_000 * 60)
    outcomes = run_together(
        lambda: close_month(month, organization=acme.organization, today=next_month(month)),
        lambda: save_price_book(acme.membership("finance"), book, book_values(next_month(month), "0.50")),
    )
    statement = Statement.objects.get(organization=acme.organization)
    assert outcomes[0] is None
    # Either the edit moved the book past the month before the close (list prices billed), or the close
    # used the book first and the edit was refused by the guard: never an issued total that no longer fits.
    assert outcomes[1] is None or isinstance(outcomes[1], RuleViolation)
    assert statement_matches_its_book(statement)


# Delete -------------------------------------------------------------------------------------------


def test_an_unused_book_can_be_deleted_after_confirming(acme, client_for):
    book = own_book(acme.organization, date(2030, 1, 1))
    client = client_for(acme.users["finance"])
    html = page_text(client.get(url("delete_price_book", book)))
    assert "Delete the price book from 2030-01-01?" in html and "Delete price book" in html
    assert PriceBook.objects.filter(pk=book.pk).exists()
    assert client.post(url("delete_price_book", book)).status_code == 302
    assert not PriceBook.objects.filter(pk=book.pk).exists()
    entry = AuditEntry.objects.get(action="billing.price_book_deleted")
    assert entry.target == "Acme price book from 2030-01-01" and entry.details["effective_from"] == "2030-01-01"


def test_a_used_book_cannot_be_deleted(acme, client_for):
    book = own_book(acme.organization, months_ago(3))
    issue_statement(acme, months_ago(2))
    client = client_for(acme.users["finance"])
    for method in (client.get, client.post):
        response = method(url("delete_price_book", book))
        assert response.status_code == 302 and response["Location"] == LIST_URL
    assert "is used by an issued statement and cannot be deleted" in page_text(client.get(LIST_URL))
    assert PriceBook.objects.filter(pk=book.pk).exists()
    assert not AuditEntry.objects.filter(action="billing.price_book_deleted").exists()


# Permissions --------------------------------------------------------------------------------------


def test_another_organizations_book_is_not_found(acme, globex, client_for):
    book = own_book(acme.organization, date(2030, 1, 1))
    client = client_for(globex.users["admin"])
    for name in ("edit_price_book", "delete_price_book"):
        assert client.get(url(name, book)).status_code == 404
        assert client.post(url(name, book), form()).status_code == 404
    assert PriceBook.objects.filter(pk=book.pk, audio_price=D("1.00")).exists()


def test_the_default_book_is_not_the_members_to_change(acme, client_for):
    default = PriceBook.objects.get(organization=None)
    client = client_for(acme.users["admin"])
    for name in ("edit_price_book", "delete_price_book"):
        assert client.get(url(name, default)).status_code == 404
        assert client.post(url(name, default), form(audio_price="0.01")).status_code == 404
    assert PriceBook.objects.get(pk=default.pk).audio_price == D("0.99")


def test_roles_without_billing_cannot_open_price_books(acme, client_for):
    client = client_for(acme.users["engineer"])
    assert client.get(LIST_URL).status_code == 403
    assert client.post(CREATE_URL, form()).status_code == 403


def test_billing_viewers_see_the_books_but_cannot_change_them(acme, client_for):
    viewer = create_role(acme.membership("admin"), name="Billing viewer", levels={"billing": "view"})
    membership = acme.membership("engineer")
    membership.role = viewer
    membership.save()
    book = own_book(acme.organization, date(2030, 1, 1))
    client = client_for(acme.users["engineer"])
    html = page_text(client.get(LIST_URL))
    assert "2030-01-01" in html and "New price book" not in html
    assert "Edit</a>" not in html and "Delete</a>" not in html
    assert client.get(CREATE_URL).status_code == 403
    assert client.post(CREATE_URL, form()).status_code == 403
    for name in ("edit_price_book", "delete_price_book"):
        assert client.get(url(name, book)).status_code == 403
        assert client.post(url(name, book), form(audio_price="0.01")).status_code == 403
    assert PriceBook.objects.filter(organization=acme.organization).count() == 1
    assert PriceBook.objects.get(pk=book.pk).audio_price == D("1.00")
