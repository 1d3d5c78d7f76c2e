"""The seller details: one row, set by superusers in the Django admin, printed on every invoice page and PDF."""

from datetime import date

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from billing.closing import close_month
from billing.invoice_pdf import invoice_pdf_bytes
from billing.models import SellerProfile
from billing.tests.pdf_text import shown_text
from usage.models import DailyUsage

SELLER = {
    "legal_name": "Console Cloud GmbH",
    "address": "Hauptstraße 5\n\n10115 Berlin  ",
    "tax_id": "DE123456789",
    "payment_instructions": "Pay within 14 days.\nQuote the invoice number.",
    "bank_details": "IBAN: DE89 3704 0044 0532 0130 00\nBIC: COBADEFFXXX",
    "footer": "Registered in Berlin, HRB 12345",
}
PRINTED = [
    "Console Cloud GmbH",
    "Hauptstraße 5",
    "10115 Berlin",
    "Tax ID: DE123456789",
    "How to pay",
    "Pay within 14 days.",
    "Quote the invoice number.",
    "IBAN: DE89 3704 0044 0532 0130 00",
    "BIC: COBADEFFXXX",
    "Registered in Berlin, HRB 12345",
]


def january(org):
    DailyUsage.objects.create(project=org.projects[0], date=date(2026, 1, 10), video_2k=11_000 * 60)
    [statement] = close_month(date(2026, 1, 1), org.organization, today=date(2026, 2, 5))
    return statement


def invoice_page(org, client_for, statement) -> str:
    response = client_for(org.users["finance"]).get(reverse("billing:invoice", args=[statement.number]))
    assert response.status_code == 200
    return response.content.decode()


def test_until_a_superuser_sets_them_the_seller_is_console_by_name_alone(db):
    seller = SellerProfile.current()
    assert seller.pk is None and seller.legal_name == "Console"
    assert seller.details() == [] and seller.payment_blocks() == [] and seller.footer == ""


def test_the_seller_details_are_one_row(db):
    SellerProfile(legal_name="First").save()
    SellerProfile(legal_name="Second").save()  # rewrites the one row rather than adding another
    assert SellerProfile.objects.count() == 1 and SellerProfile.current().legal_name == "Second"


def test_the_invoice_page_prints_the_seller_details(acme, client_for):
    SellerProfile.objects.create(**SELLER)
    html = invoice_page(acme, client_for, january(acme))
    assert '<p class="invoice-seller">Console Cloud GmbH</p>' in html
    assert "Hauptstraße 5<br>10115 Berlin<br>Tax ID: DE123456789</address>" in html
    assert "<p>Pay within 14 days.<br>Quote the invoice number.</p>" in html
    assert "<p>IBAN: DE89 3704 0044 0532 0130 00<br>BIC: COBADEFFXXX</p>" in html
    assert "Registered in Berlin, HRB 12345</footer>" in html


def test_the_pdf_prints_the_seller_details(acme):
    SellerProfile.objects.create(**SELLER)
    text = shown_text(invoice_pdf_bytes(january(acme), None, compress=False))
    assert [line for line in text if line in PRINTED] == PRINTED  # in this order: From at the top, then How to pay
    assert text.index("Tax ID: DE123456789") < text.index("Bill to") < text.index("Total") < text.index("How to pay")


def test_empty_seller_details_print_no_empty_blocks(acme, client_for):
    statement = january(acme)
    html = invoice_page(acme, client_for, statement)
    assert '<p class="invoice-seller">Console</p>' in html
    assert "invoice-seller-details" not in html and "How to pay" not in html and "invoice-footer" not in html
    text = shown_text(invoice_pdf_bytes(statement, None, compress=False))
    assert text[:3] == ["INVOICE", "Console", "Bill to"]
    assert "How to pay" not in text and text[-1] == f"{statement.number} - page 1 of 1"


def test_a_blank_part_of_the_seller_details_is_left_out(acme, client_for):
    SellerProfile.objects.create(legal_name="Console Cloud GmbH", bank_details="IBAN: DE89 3704")
    statement = january(acme)
    html = invoice_page(acme, client_for, statement)
    assert "How to pay" in html and "<p>IBAN: DE89 3704</p>" in html and "invoice-footer" not in html
    text = shown_text(invoice_pdf_bytes(statement, None, compress=False))
    assert text[text.index("How to pay") + 1] == "IBAN: DE89 3704"
    assert text[1:3] == ["Console Cloud GmbH", "Bill to"]  # no address, no tax ID


# The Django admin ---------------------------------------------------------------------------------------

CHANGELIST = "/admin/billing/sellerprofile/"
ADD = "/admin/billing/sellerprofile/add/"
CHANGE = "/admin/billing/sellerprofile/1/change/"
DELETE = "/admin/billing/sellerprofile/1/delete/"


@pytest.fixture
def superuser(acme):
    user = acme.users["admin"]
    user.is_staff = user.is_superuser = True
    user.save()
    return user


def test_a_superuser_sets_the_seller_details_once_and_edits_them_after(client, superuser):
    client.force_login(superuser)
    assert client.get(CHANGELIST).url == ADD  # nothing to list: the form to set them
    response = client.post(ADD, {**SELLER, "_save": "Save"})
    assert response.status_code == 302 and SellerProfile.current().tax_id == "DE123456789"
    assert client.get(CHANGELIST).url == CHANGE
    assert client.get(CHANGE).status_code == 200
    assert client.get(ADD).status_code == 403  # a second row cannot be added
    assert client.get(DELETE).status_code == 403  # nor the one deleted
    client.post(CHANGE, {**SELLER, "footer": "Thank you", "_save": "Save"})
    assert SellerProfile.objects.get().footer == "Thank you"


def test_a_line_break_in_a_one_line_field_is_refused(client, superuser):
    client.force_login(superuser)
    response = client.post(ADD, {**SELLER, "legal_name": "Console\nGmbH", "_save": "Save"})
    assert response.status_code == 200 and "control characters" in response.content.decode()
    assert not SellerProfile.objects.exists()


@pytest.mark.parametrize("path", [CHANGELIST, ADD, CHANGE])
def test_staff_who_are_not_superusers_cannot_reach_the_seller_details(acme, client, path):
    SellerProfile.objects.create(**SELLER)
    staff = acme.users["finance"]
    staff.is_staff = True
    staff.save()
    staff.user_permissions.set(Permission.objects.filter(codename__endswith="_sellerprofile"))
    client.force_login(staff)
    assert client.get(path).status_code == 403
    assert client.post(CHANGE, {**SELLER, "legal_name": "Mallory Ltd", "_save": "Save"}).status_code == 403
    assert "sellerprofile" not in client.get("/admin/").content.decode()
    assert SellerProfile.current().legal_name == "Console Cloud GmbH"


@pytest.mark.parametrize("path", [CHANGELIST, ADD, CHANGE])
def test_members_and_visitors_are_sent_to_the_admin_sign_in(acme, client, path):
    assert client.get(path).url.startswith("/admin/login/")
    client.force_login(acme.users["admin"])  # the organization's owner, but not staff
    assert client.get(path).url.startswith("/admin/login/")
