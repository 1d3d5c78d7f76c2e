"""The PDF invoice: built with fpdf2's core fonts, downloadable by billing members of the organization."""

import re
from datetime import date
from decimal import Decimal

from django.urls import reverse

from billing.closing import close_month
from billing.invoice_pdf import invoice_pdf_bytes, latin1
from billing.models import BillingProfile, bill_to_lines
from usage.models import DailyUsage


def january(org):
    """11,000 min of 2K in January 2026: 1,000 billable minutes, USD 15.99."""
    DailyUsage.objects.create(project=org.projects[0], date=date(2026, 1, 10), video_2k=11_000 * 60)
    [statement] = close_month(date(2026, 1, 1), org.organization, today=date(2026, 2, 5))
    return statement


def shown_text(pdf: bytes) -> list[str]:
    """The strings drawn by an uncompressed PDF (core fonts write them as `(text) Tj`)."""
    return [found.decode("latin-1") for found in re.findall(rb"\((.*?)\) ?Tj", pdf)]


def test_the_pdf_download_is_an_attachment_named_after_the_invoice(acme, client_for):
    statement = january(acme)
    response = client_for(acme.users["finance"]).get(reverse("billing:invoice_pdf", args=[statement.number]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{statement.number}.pdf"'
    assert response.content.startswith(b"%PDF-") and response.content.rstrip().endswith(b"%%EOF")


def test_the_pdf_holds_the_invoice(acme):
    profile = BillingProfile.objects.create(
        organization=acme.organization, company_name="Acme Trading", address="1 Main St\nSpringfield", tax_id="US-9"
    )
    statement = january(acme)
    text = shown_text(invoice_pdf_bytes(statement, profile, status_label="Pending", compress=False))
    assert statement.number in text and "Total" in text and "USD 15.99" in text
    assert ["Video 2K", "11,000", "10,000", "1,000", "15.99", "USD 15.99"] == text[text.index("Video 2K") :][:6]
    for expected in ("Acme Trading", "1 Main St", "Springfield", "Tax ID: US-9", "Pending", "2026-02-06"):
        assert expected in text
    assert "2026-01-01 to 2026-01-31" in text and "Volume discount and rounding" in text


def test_the_pdf_is_compressed_by_default_and_the_same_every_time(acme):
    statement = january(acme)
    first = invoice_pdf_bytes(statement, None)
    assert first == invoice_pdf_bytes(statement, None)
    assert b"/FlateDecode" in first and shown_text(first) == []  # the page text is compressed


def test_without_billing_details_the_pdf_is_made_out_to_the_organization(acme):
    statement = january(acme)
    assert bill_to_lines(acme.organization, None) == ["Acme"]
    assert "Acme" in shown_text(invoice_pdf_bytes(statement, None, compress=False))


def test_text_outside_latin1_cannot_break_the_pdf(acme):
    statement = january(acme)
    profile = BillingProfile(  # not saved: PostgreSQL refuses NUL in text, the forms refuse it too
        organization=acme.organization,
        company_name="株式会社 Acme 🚀",
        address="Straße 5 – “Hof”\nМосква\x00\x07",
        country="Ελλάδα",
    )
    statement.bill_to = []  # a statement without a snapshot prints the profile handed in
    pdf = invoice_pdf_bytes(statement, profile, compress=False)
    text = shown_text(pdf)
    assert pdf.startswith(b"%PDF-")
    assert "???? Acme ?" in text and 'Straße 5 - "Hof"' in text and "??????" in text and "??????" in text


def test_latin1_keeps_what_core_fonts_can_print():
    assert latin1("Café – 10 € … ‘ok’") == "Café - 10 ? ... 'ok'"
    assert latin1("ﬁle ＡＢＣ") == "file ABC"  # compatibility forms become their plain letters
    assert latin1("a\tb\x00c\nd") == "abc\nd"
    assert latin1("") == ""


def test_the_pdf_lists_late_usage_adjustments(acme):
    january(acme)
    DailyUsage.objects.create(project=acme.projects[1], date=date(2026, 1, 20), video_2k=1_000 * 60)
    DailyUsage.objects.create(project=acme.projects[0], date=date(2026, 2, 3), audio=60)
    [february] = close_month(date(2026, 2, 1), acme.organization, today=date(2026, 3, 2))
    text = shown_text(invoice_pdf_bytes(february, None, compress=False))
    assert "Late usage of January 2026" in text
    assert text[text.index("Total") + 1] == f"USD {february.total:,.2f}"
    assert february.total == Decimal("15.99")
