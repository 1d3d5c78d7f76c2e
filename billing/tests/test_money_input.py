"""Money typed into the billing forms: a form sent twice records once (also when both posts arrive at the
same moment), a payment with an earlier payment's reference waits for a confirmation, value dates lie in a
sensible window, and amounts are read from the digits 0-9 only."""

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Organization
from billing import ledger
from billing.closing import close_month
from billing.fields import MoneyField, WholeNumberField
from billing.forms import new_form_token
from billing.models import PriceBook, Transaction, UsageAlert
from conftest import member, run_together
from console.dates import next_month
from console.refusals import RuleViolation
from console.tests.api_helpers import Api
from usage.models import DailyUsage

D = Decimal
PAYMENT_URL = reverse("billing:record_payment")
CORRECTION_URL = reverse("billing:record_correction")
OTHER_DIGITS = "other digits (such as ١٢٣ or １２３) are not accepted"
# 123 in Arabic-Indic, Extended Arabic-Indic (Persian), Devanagari and full-width digits.
FOREIGN_123 = ["١٢٣", "۱۲۳", "१२३", "１２３"]


def today() -> date:
    return timezone.now().date()


def token_on(response) -> str:
    """The one-time token in the form of a page."""
    assert response.status_code == 200, response.status_code
    found = re.search(r'name="form_token" value="([^"]*)"', response.content.decode())
    assert found, "the form has no token"
    return found.group(1)


def payment(**changes) -> dict:
    return {
        "amount": "20.00",
        "method": "bank_transfer",
        "reference": "",
        "occurred_on": f"{today():%Y-%m-%d}",
        **changes,
    }


def correction(**changes) -> dict:
    return {
        "correction": "refund",
        "amount": "4",
        "reason": "Overpaid",
        "occurred_on": f"{today():%Y-%m-%d}",
        **changes,
    }


def html_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


# A form sent twice ------------------------------------------------------------------------------------


def test_each_form_page_carries_a_fresh_token(acme, client_for):
    client = client_for(acme.users["finance"])
    tokens = {
        token_on(client.get(PAYMENT_URL)),
        token_on(client.get(PAYMENT_URL)),
        token_on(client.get(CORRECTION_URL)),
    }
    assert len(tokens) == 3 and all(ledger.FORM_TOKEN.fullmatch(token) for token in tokens)


def test_a_payment_form_sent_twice_records_one_payment(acme, client_for):
    client = client_for(acme.users["finance"])
    data = payment(form_token=token_on(client.get(PAYMENT_URL)), reference="SEPA-7")
    first = client.post(PAYMENT_URL, data)
    second = client.post(PAYMENT_URL, data, follow=True)
    assert Transaction.objects.filter(organization=acme.organization).count() == 1
    assert first.status_code == 302 and first["Location"] == reverse("billing:overview")
    assert second.redirect_chain == [(reverse("billing:overview"), 302)]
    assert "This payment was already recorded (USD 20.00 on" in html_of(second)
    assert "not recorded a second time" in html_of(second)
    [entry] = Transaction.objects.filter(organization=acme.organization)
    assert (entry.amount, entry.reference, entry.form_token) == (D("20.00"), "SEPA-7", data["form_token"])
    assert ledger.standing(acme.organization).balance == D("20.00")


def test_a_correction_form_sent_twice_records_one_entry(acme, client_for):
    client = client_for(acme.users["finance"])
    data = correction(form_token=token_on(client.get(CORRECTION_URL)))
    assert client.post(CORRECTION_URL, data).status_code == 302
    second = client.post(CORRECTION_URL, data, follow=True)
    assert Transaction.objects.filter(organization=acme.organization).count() == 1
    assert second.redirect_chain == [(reverse("billing:transactions"), 302)]
    assert "This refund was already recorded (USD 4.00 on" in html_of(second)


def test_a_token_belongs_to_the_organization_that_used_it(acme, globex, client_for):
    token = new_form_token()
    assert client_for(acme.users["finance"]).post(PAYMENT_URL, payment(form_token=token)).status_code == 302
    assert client_for(globex.users["finance"]).post(PAYMENT_URL, payment(form_token=token)).status_code == 302
    assert Transaction.objects.filter(form_token=token).count() == 2


@pytest.mark.parametrize("token", [None, "", "abc", "0" * 31, "0" * 33, "G" * 32, "A" * 32, "٠" * 32, "0" * 5000])
def test_a_post_without_a_valid_token_is_a_form_error(acme, client_for, token):
    client = client_for(acme.users["finance"])
    data = payment() if token is None else payment(form_token=token)
    response = client.post(PAYMENT_URL, data)
    assert "This form was not sent as the console showed it" in html_of(response)
    assert not Transaction.objects.exists()
    # The form shown again carries a fresh token: sending it records the payment.
    fresh = token_on(response)
    assert fresh != token and ledger.FORM_TOKEN.fullmatch(fresh)
    assert client.post(PAYMENT_URL, payment(form_token=fresh)).status_code == 302
    assert Transaction.objects.count() == 1


def test_the_correction_form_needs_a_token_too(acme, client_for):
    response = client_for(acme.users["finance"]).post(CORRECTION_URL, correction())
    assert "This form was not sent as the console showed it" in html_of(response)
    assert not Transaction.objects.exists()


def test_the_ledger_writes_a_token_once(acme):
    finance, token = acme.users["finance"], new_form_token()
    first = ledger.record_payment(member(finance, acme.organization), amount=D("5"), method="card", form_token=token)
    with pytest.raises(ledger.AlreadyRecorded) as replay:
        ledger.record_correction(
            member(finance, acme.organization), correction="credit", amount=D("1"), reason="x", form_token=token
        )
    assert replay.value.entry == first
    with pytest.raises(RuleViolation, match="reload the page"):
        ledger.record_payment(member(finance, acme.organization), amount=D("5"), method="card", form_token="nope")
    assert Transaction.objects.count() == 1


def test_the_database_refuses_a_second_entry_with_a_token(acme):
    token = new_form_token()
    fields = {"organization": acme.organization, "kind": "payment", "amount": D("1"), "occurred_on": today()}
    Transaction.objects.create(form_token=token, **fields)
    Transaction.objects.create(**fields)  # entries without a token are not limited
    Transaction.objects.create(**fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        Transaction.objects.create(form_token=token, **fields)
    assert Transaction.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_posts_of_one_form_record_one_payment(postgres, acme):
    finance = acme.users["finance"]
    clients = [Client(), Client(), Client()]
    for client in clients:
        client.force_login(finance)
    data = payment(form_token=token_on(clients[0].get(PAYMENT_URL)), reference="SEPA-9")
    responses = []
    outcomes = run_together(
        *[lambda client=client: responses.append(client.post(PAYMENT_URL, data)) for client in clients]
    )
    assert outcomes == [None, None, None]
    assert [response.status_code for response in responses] == [302, 302, 302]
    assert all(response["Location"] == reverse("billing:overview") for response in responses)
    [entry] = Transaction.objects.filter(organization=acme.organization)
    assert entry.amount == D("20.00") and ledger.standing(acme.organization).balance == D("20.00")


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_corrections_with_one_token_write_one_entry(postgres, acme):
    finance, token = acme.users["finance"], new_form_token()

    def refund():
        ledger.record_correction(
            member(finance, acme.organization), correction="refund", amount=D("3"), reason="Overpaid", form_token=token
        )

    outcomes = run_together(refund, refund)
    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["AlreadyRecorded", "NoneType"]
    assert Transaction.objects.filter(organization=acme.organization).count() == 1


# A second payment with the same reference -------------------------------------------------------------


def test_a_payment_with_an_earlier_payments_reference_waits_for_a_confirmation(acme, client_for):
    client = client_for(acme.users["finance"])
    ledger.record_payment(
        member(acme.users["finance"], acme.organization), amount=D("20"), method="card", reference="TX-1"
    )
    page = client.get(PAYMENT_URL)
    assert "Record it anyway" not in html_of(page)
    data = payment(form_token=token_on(page), reference="tx-1")
    html = html_of(client.post(PAYMENT_URL, data))
    assert "A payment with the reference “TX-1” was already recorded: USD 20.00 on" in html
    assert "Record it anyway" in html and 'type="checkbox" name="same_reference_ok"' in html
    assert Transaction.objects.count() == 1
    # Sent again without ticking the box: still a warning. Ticked: recorded.
    assert "Record it anyway" in html_of(client.post(PAYMENT_URL, data))
    assert client.post(PAYMENT_URL, {**data, "same_reference_ok": "on"}).status_code == 302
    assert list(Transaction.objects.order_by("id").values_list("reference", flat=True)) == ["TX-1", "tx-1"]


def test_references_are_compared_within_the_organization_and_only_when_given(acme, globex):
    ledger.record_payment(
        member(globex.users["finance"], globex.organization), amount=D("1"), method="card", reference="R-1"
    )
    finance = acme.users["finance"]
    ledger.record_payment(member(finance, acme.organization), amount=D("1"), method="card", reference="R-1")
    ledger.record_payment(member(finance, acme.organization), amount=D("1"), method="card")
    ledger.record_payment(member(finance, acme.organization), amount=D("1"), method="card")
    ledger.record_correction(member(finance, acme.organization), correction="credit", amount=D("1"), reason="R-2")
    with pytest.raises(ledger.SameReference, match="R-1"):
        ledger.record_payment(member(finance, acme.organization), amount=D("1"), method="card", reference="R-1")
    ledger.record_payment(
        member(finance, acme.organization), amount=D("1"), method="card", reference="R-1", same_reference_ok=True
    )
    assert Transaction.objects.filter(organization=acme.organization).count() == 5


# Value dates ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("day", ["0001-01-01", "1999-12-31", "0999-03-01"])
def test_a_payment_dated_in_year_1_is_refused(acme, client_for, day):
    client = client_for(acme.users["finance"])
    html = html_of(client.post(PAYMENT_URL, payment(form_token=new_form_token(), occurred_on=day)))
    earliest = ledger.earliest_value_date(acme.organization)
    assert f"The date cannot be before {earliest:%Y-%m-%d}: check the year." in html
    html = html_of(client.post(CORRECTION_URL, correction(form_token=new_form_token(), occurred_on=day)))
    assert "check the year" in html
    assert not Transaction.objects.exists()


def test_the_ledger_refuses_a_year_1_value_date(acme):
    with pytest.raises(RuleViolation, match="cannot be before"):
        ledger.record_payment(
            member(acme.users["finance"], acme.organization), amount=D("1"), method="card", occurred_on=date(1, 1, 1)
        )
    with pytest.raises(RuleViolation, match="cannot be before"):
        ledger.record_correction(
            member(acme.users["finance"], acme.organization),
            correction="credit",
            amount=D("1"),
            reason="x",
            occurred_on=date(1, 1, 1),
        )
    assert not Transaction.objects.exists()


def test_value_dates_go_back_a_year_before_the_organization_or_its_first_bill(acme):
    organization = acme.organization
    created = organization.created_at.astimezone(UTC).date()
    assert ledger.earliest_value_date(organization) == created - timedelta(days=366)
    assert ledger.value_date_problem(organization, created - timedelta(days=366)) is None
    assert "check the year" in ledger.value_date_problem(organization, created - timedelta(days=367))
    assert ledger.value_date_problem(organization, today() + timedelta(days=1)) == "The date cannot be in the future."
    # History billed before the account was opened here moves the window back with it.
    DailyUsage.objects.create(project=acme.projects[0], date=date(2024, 5, 10), audio=60)
    close_month(date(2024, 5, 1), organization, today=date(2024, 6, 1))
    assert ledger.earliest_value_date(organization) == date(2023, 5, 1)
    # Never before 2000, whatever the organization's dates say.
    Organization.objects.filter(pk=organization.pk).update(created_at=datetime(1990, 1, 1, tzinfo=UTC))
    organization.refresh_from_db()
    assert ledger.earliest_value_date(organization) == date(2000, 1, 1)


def test_the_date_field_says_its_window(acme, client_for):
    html = html_of(client_for(acme.users["finance"]).get(PAYMENT_URL))
    earliest = ledger.earliest_value_date(acme.organization)
    assert f'min="{earliest:%Y-%m-%d}"' in html and f'max="{today():%Y-%m-%d}"' in html
    assert f"From {earliest:%Y-%m-%d} to today" in html


# Digits of other scripts ------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", FOREIGN_123 + ["12٣", "١٢٣.٥٠"])
def test_a_payment_in_other_digits_is_refused(acme, client_for, amount):
    client = client_for(acme.users["finance"])
    html = html_of(client.post(PAYMENT_URL, payment(form_token=new_form_token(), amount=amount)))
    assert OTHER_DIGITS in html
    html = html_of(client.post(CORRECTION_URL, correction(form_token=new_form_token(), amount=amount)))
    assert OTHER_DIGITS in html
    assert not Transaction.objects.exists()


@pytest.mark.parametrize("amount", ["1e3", "1E+2", "Infinity", "NaN", "0x10", "1,000", "1 000", "--5", "5..", "+-1"])
def test_amounts_are_plain_numbers(acme, client_for, amount):
    html = html_of(
        client_for(acme.users["finance"]).post(PAYMENT_URL, payment(form_token=new_form_token(), amount=amount))
    )
    assert "Enter a number. Use the digits 0-9 and a dot before the decimals" in html
    assert not Transaction.objects.exists()


@pytest.mark.parametrize(
    ("typed", "read"), [("123", D("123")), (" 1234.50 ", D("1234.50")), (".5", D("0.5")), ("7.", D("7"))]
)
def test_plain_amounts_are_read_as_typed(typed, read):
    assert MoneyField(decimal_places=2).clean(typed) == read


def test_whole_numbers_take_the_digits_0_9_only():
    field = WholeNumberField()
    assert field.clean("5000") == 5000
    for typed in ["٥٠٠٠", "５０００", "5e3", "5000.0"]:
        with pytest.raises(ValidationError, match="digits 0-9"):
            field.clean(typed)


def price_book(**changes) -> dict:
    month = next_month(today().replace(day=1))
    data = {"effective_from": f"{month:%Y-%m-%d}", "free_minutes": "10000", "discount_bands": ""}
    data.update({field: "1.5" for field in ["audio_price", "video_hd_price", "video_full_hd_price"]})
    data.update({"video_2k_price": "10", "video_2k_plus_price": "20"})
    return {**data, **changes}


@pytest.mark.parametrize("field", ["audio_price", "video_2k_plus_price", "free_minutes"])
@pytest.mark.parametrize("typed", ["١٢٣", "１２３"])
def test_a_price_book_in_other_digits_is_refused(acme, client_for, field, typed):
    client = client_for(acme.users["finance"])
    html = html_of(client.post(reverse("billing:create_price_book"), price_book(**{field: typed})))
    assert OTHER_DIGITS in html
    assert not PriceBook.objects.filter(organization=acme.organization).exists()
    assert client.post(reverse("billing:create_price_book"), price_book()).status_code == 302


@pytest.mark.parametrize("typed", ["١٢٣", "１２３"])
def test_a_usage_alert_in_other_digits_is_refused(acme, client_for, typed):
    client = client_for(acme.users["admin"])
    html = html_of(client.post(reverse("billing:alerts"), {"metric": "amount", "threshold": typed}))
    assert OTHER_DIGITS in html and not UsageAlert.objects.exists()


def test_the_native_billing_api_records_nothing(acme, client):
    """The ledger is read-only through the API, so money is typed into the pages only."""
    api = Api(client, acme.membership("finance"))
    response = api.post("/api/v1/transactions/", {"kind": "payment", "amount": "١٢٣", "occurred_on": "0001-01-01"})
    assert response.status_code == 405 and "message" in response.json()
    assert not Transaction.objects.exists()
