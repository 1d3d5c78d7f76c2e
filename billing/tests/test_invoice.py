"""The PDF invoice: built with fpdf2 in embedded Noto fonts, downloadable by billing members of the organization."""

from datetime import date
from decimal import Decimal

from django.urls import reverse

from billing.closing import close_month
from billing.invoice_pdf import invoice_pdf_bytes
from billing.invoice_pdf_fonts import MISSING, printable
from billing.models import BillingProfile, bill_to_lines
from billing.tests.pdf_text import inflated, shown_text
from usage.models import DailyUsage


def january(org):
    """11,000 min of 2K in January 2026: 1,000 billable minutes, USD 15.99."""
    DailyUsage.objects.create(project=org.projects[0], date=date(2026, 1, 10), video_2k=11_000 * 60)
    [statement] = close_month(date(2026, 1, 1), org.organization, today=date(2026, 2, 5))
    return statement


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
    assert "2026-01-01 to 2026-01-31" in text
    assert "Volume discount" not in text and "Rounding" not in text  # zero lines are left out


def test_the_pdf_is_compressed_by_default_and_the_same_every_time(acme):
    statement = january(acme)
    first = invoice_pdf_bytes(statement, None)
    assert first == invoice_pdf_bytes(statement, None)
    assert b"/FlateDecode" in first and shown_text(first) == []  # the page text is compressed
    assert shown_text(inflated(first)) == shown_text(invoice_pdf_bytes(statement, None, compress=False))


def test_without_billing_details_the_pdf_is_made_out_to_the_organization(acme):
    statement = january(acme)
    assert bill_to_lines(acme.organization, None) == ["Acme"]
    assert "Acme" in shown_text(invoice_pdf_bytes(statement, None, compress=False))


def printed(statement, *, company_name: str, address: str = "") -> tuple[bytes, list[str]]:
    """The PDF of `statement` as if it had no snapshot of the billing details, so that it prints the profile
    handed in (unsaved: PostgreSQL refuses NUL in text, and the forms refuse it too)."""
    statement.bill_to = []
    profile = BillingProfile(organization=statement.organization, company_name=company_name, address=address)
    pdf = invoice_pdf_bytes(statement, profile, compress=False)
    return pdf, shown_text(pdf)


def test_a_name_in_any_of_these_scripts_prints_as_typed(acme):
    names = ["Ооо Ромашка", "Ελληνική Α.Ε.", "株式会社テスト", "Café Zürich", "한국 주식회사", "简体中文公司", "Łódź"]
    pdf, text = printed(january(acme), company_name=names[0], address="\n".join(names[1:]))
    for name in names:
        assert name in text
    assert MISSING not in "".join(text)


def test_right_to_left_text_is_drawn_right_to_left_with_joined_letters(acme):
    pdf, text = printed(january(acme), company_name="שלום בע״מ", address="شركة الاختبار")
    assert "מ״עב םולש" in text  # read back left to right, as drawn
    assert b"/BaseFont /MPDFAA+NotoSansArabic" in pdf and b"/BaseFont /MPDFAA+NotoSansHebrew" in pdf


def test_a_fallback_font_is_embedded_only_when_the_text_needs_it(acme):
    statement = january(acme)
    pdf, _ = printed(statement, company_name="Acme Trading")
    assert pdf.count(b"/BaseFont /MPDFAA+") == 2  # Noto Sans: the Type0 font and its descendant
    pdf, _ = printed(statement, company_name="株式会社 Acme")
    assert b"/BaseFont /MPDFAA+NotoSansCJKJP" in pdf


def test_characters_no_font_has_print_as_a_marker_and_controls_are_left_out(acme):
    address = "Straße 5 – “Hof”\nMos\x00cow\x07\u202e"
    pdf, text = printed(january(acme), company_name="Acme \ue000 ༀ 🚀", address=address)
    assert pdf.startswith(b"%PDF-")
    assert f"Acme {MISSING} {MISSING} 🚀" in text and "Straße 5 – “Hof”" in text and "Moscow" in text
    assert not any(character < " " for character in "".join(text))


def test_printable_keeps_what_the_fonts_print():
    assert printable("Café – 10 € … ‘ok’") == "Café – 10 € … ‘ok’"
    assert printable("e\u0301") == "é"  # composed: one glyph rather than a letter and a loose accent
    assert printable("a\tb\x00c\nd") == "abc\nd"
    assert printable("\u202eevil\u200b") == "evil"  # invisible format characters go
    assert printable("می\u200cخواهم") == "می\u200cخواهم"  # the non-joiner stays: it shapes Persian words
    assert printable("\ue000") == MISSING and printable("\u0f71") == ""  # a mark no font has goes
    assert printable("") == ""


def test_the_pdf_lists_late_usage_adjustments(acme):
    january(acme)
    DailyUsage.objects.create(project=acme.projects[1], date=date(2026, 1, 20), video_2k=1_000 * 60)
    DailyUsage.objects.create(project=acme.projects[0], date=date(2026, 2, 3), audio=60)
    [february] = close_month(date(2026, 2, 1), acme.organization, today=date(2026, 3, 2))
    text = shown_text(invoice_pdf_bytes(february, None, compress=False))
    assert "Late usage of January 2026" in text
    assert text[text.index("Total") + 1] == f"USD {february.total:,.2f}"
    assert february.total == Decimal("15.99")
