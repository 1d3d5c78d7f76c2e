"""The invoice of a statement as a PDF: the same content as the HTML invoice, drawn with fpdf2.

The text is set in Noto fonts embedded as subsets (invoice_pdf_fonts.py says which scripts print), so a
company name in Cyrillic, Greek, Arabic or Japanese prints as typed. Every text goes through
`InvoicePDF.normalize_text`, which leaves control characters out of the PDF.
"""

from decimal import Decimal

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from console.text import one_line

from . import invoice_pdf_fonts as fonts
from .models import BillingProfile, SellerProfile, Statement, StatementLine

PAYMENT_LINES = 10  # the PDF's payments list is short; the invoice page has every entry
# Column widths in mm (A4 minus 15 mm margins = 180 mm).
COLUMNS = (("Description", 58), ("Minutes", 22), ("Free", 22), ("Billable", 24), ("Unit price*", 26), ("Amount", 28))
GREY = 110  # labels and headings: with one weight (see InvoicePDF.use_font), grey sets them apart


def money(amount: Decimal, currency: str = "USD") -> str:
    return f"{currency} {amount:,.2f}"


def invoice_facts(statement: Statement, status_label: str, account=None) -> list[tuple[str, str]]:
    """The facts printed right of the customer; with `account` (billing.settlement.StatementSettlement) its
    status and the amounts paid and due, as the invoice page shows them."""
    facts = [
        ("Invoice number", statement.number),
        ("Issue date", f"{statement.issued_at:%Y-%m-%d}"),
        ("Billing period", f"{statement.month:%Y-%m-%d} to {statement.period_end:%Y-%m-%d}"),
        ("Due date", f"{statement.due_date:%Y-%m-%d}"),
    ]
    if account is not None:
        return facts + settlement_facts(account, statement.currency)
    if status_label:
        facts.append(("Status", status_label))
    return facts


def settlement_facts(account, currency: str) -> list[tuple[str, str]]:
    facts = [
        ("Status", account.status_label),
        ("Amount paid", money(account.paid, currency)),
        ("Amount due", money(account.amount_due, currency)),
    ]
    if account.paid_at:
        facts.append(("Paid on", f"{account.paid_at:%Y-%m-%d}"))
    return facts


class InvoicePDF(FPDF):
    def __init__(self, statement: Statement, seller: SellerProfile):
        super().__init__(format="A4", unit="mm")
        self.statement = statement
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(auto=True, margin=20)
        self.set_title(f"Invoice {statement.number}")
        self.set_author(one_line(seller.legal_name))  # metadata is not drawn: normalize_text never sees it
        self.set_creation_date(statement.issued_at)  # the same statement always gives the same bytes
        self.add_font(fonts.MAIN_FAMILY, "", fonts.MAIN_FONT)
        self.set_text_shaping(True)

    def normalize_text(self, text: str) -> str:
        """fpdf2 passes every text it draws or measures through here."""
        return fonts.printable(text)

    def get_fallback_font(self, char: str, style: str = "") -> str | None:
        """The font for a character Noto Sans lacks, added on first use: most invoices need none, and the
        CJK font costs half a second to embed."""
        family = fonts.fallback_family(char)
        if family is not None and family not in self.fonts:
            self.add_font(family, "", fonts.FALLBACK_FONTS[family])
            fallbacks = [known for known in fonts.FALLBACK_FONTS if known in self.fonts]
            self.set_fallback_fonts(fallbacks)
        return family

    def use_font(self, size: float) -> None:
        """Noto Sans Regular at `size` points. One weight only: Noto Sans ships as a variable font, and fpdf2
        takes two seconds per PDF to cut a bold instance out of it; size and grey make the hierarchy."""
        self.set_font(fonts.MAIN_FAMILY, size=size)

    def footer(self):
        self.set_y(-15)
        self.use_font(8)
        self.set_text_color(110)
        self.cell(0, 5, f"{self.statement.number} - page {self.page_no()} of {{nb}}", align="C")

    def line_text(self, text: str, *, size: float = 10, height: float = 5, align: str = "L"):
        self.use_font(size)
        self.multi_cell(0, height, text, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def heading(self, text: str) -> None:
        """The title of a block ("Bill to", "How to pay")."""
        self.set_text_color(GREY)
        self.line_text(text, size=9)
        self.set_text_color(0)


def draw_header(pdf: InvoicePDF, seller: SellerProfile) -> None:
    """The seller's block (legal name, address, tax ID) on the left, INVOICE on the right."""
    top = pdf.get_y()
    pdf.use_font(16)
    pdf.cell(0, 10, "INVOICE", align="R")
    pdf.set_xy(pdf.l_margin, top)
    pdf.use_font(18)
    pdf.multi_cell(125, 9, seller.legal_name, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(70)
    pdf.use_font(9)
    for line in seller.details():
        pdf.multi_cell(125, 4.5, line, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0)
    pdf.ln(6)


def draw_parties(pdf: InvoicePDF, statement: Statement, profile, status_label: str, account=None) -> None:
    top = pdf.get_y()
    pdf.heading("Bill to")
    pdf.use_font(10)
    for line in statement.billed_to(profile):
        pdf.multi_cell(95, 5, line, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)  # wraps left of the facts
    bottom = pdf.get_y()
    pdf.set_y(top)
    for label, value in invoice_facts(statement, status_label, account):
        pdf.set_x(115)
        pdf.use_font(9)
        pdf.set_text_color(GREY)
        pdf.cell(30, 5, label)
        pdf.set_text_color(0)
        pdf.cell(0, 5, value, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(max(bottom, pdf.get_y()) + 8)


def draw_row(pdf: InvoicePDF, cells: list[str], *, fill: bool = False) -> None:
    pdf.use_font(9)
    for index, (text, (_, width)) in enumerate(zip(cells, COLUMNS, strict=True)):
        pdf.cell(width, 7, text, border="B", align="L" if index == 0 else "R", fill=fill)
    pdf.ln(7)


def line_cells(line: StatementLine, currency: str) -> list[str]:
    if line.kind != StatementLine.Kind.USAGE:
        return [line.description, "", "", "", "", money(line.amount, currency)]
    return [
        line.description,
        f"{line.minutes:,}",
        f"{line.free_minutes:,}",
        f"{line.billable_minutes:,}",
        f"{line.unit_price:,.2f}",
        money(line.amount, currency),
    ]


def draw_lines(pdf: InvoicePDF, statement: Statement) -> None:
    pdf.set_fill_color(240, 242, 246)
    draw_row(pdf, [label for label, _ in COLUMNS], fill=True)
    for line in statement.lines.all():
        draw_row(pdf, line_cells(line, statement.currency))
    pdf.use_font(11)
    pdf.cell(180 - COLUMNS[-1][1], 9, "Total")
    pdf.cell(
        COLUMNS[-1][1], 9, money(statement.total, statement.currency), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )


def payments_note(account) -> str:
    if account.is_credit_note:
        return "This statement is a credit: it went to the credit balance when it was issued."
    return "Nothing to pay: the total is zero." if not account.total else "No payment applied yet."


def draw_payments(pdf: InvoicePDF, statement: Statement, account) -> None:
    """The payments applied to the statement, latest PAYMENT_LINES only (the invoice page lists them all)."""
    if account is None:
        return
    pdf.ln(4)
    pdf.heading("Payments")
    if not account.history:
        pdf.line_text(payments_note(account), size=9)
        return
    shown = account.history[-PAYMENT_LINES:]
    if len(shown) < len(account.history):
        pdf.line_text(f"{len(account.history) - len(shown)} earlier entries are on the invoice page.", size=8)
    for application in shown:
        pdf.use_font(9)
        pdf.cell(30, 6, f"{application.day:%Y-%m-%d}")
        pdf.cell(115, 6, shorten(application.source, 70))
        pdf.cell(35, 6, money(application.amount, statement.currency), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.line_text(f"Amount due: {money(account.amount_due, statement.currency)}", size=10, align="R")


def shorten(text: str, length: int) -> str:
    """One cell's worth of text: a long reason would run into the amount next to it."""
    return text if len(text) <= length else f"{text[: length - 3]}..."


def draw_notes(pdf: InvoicePDF, statement: Statement) -> None:
    pdf.ln(4)
    pdf.set_text_color(90)
    note = "* Unit prices are per 1,000 minutes. Minutes are per user, rounded up per project, tier and day."
    pdf.line_text(note, size=8, height=4)
    pdf.line_text(
        f"This invoice is deducted from the account balance on {statement.due_date:%Y-%m-%d}.", size=8, height=4
    )
    pdf.set_text_color(0)


def draw_how_to_pay(pdf: InvoicePDF, seller: SellerProfile) -> None:
    """The seller's payment instructions and bank details, then the seller's footer; nothing when empty."""
    blocks = seller.payment_blocks()
    if blocks:
        pdf.ln(6)
        pdf.heading("How to pay")
    for block in blocks:
        for line in block:
            pdf.line_text(line, size=9, height=4.5)
        pdf.ln(2)
    if seller.footer:
        pdf.ln(4)
        pdf.set_text_color(90)
        pdf.line_text(seller.footer, size=8, height=4, align="C")
        pdf.set_text_color(0)


def invoice_pdf_bytes(
    statement: Statement,
    profile: BillingProfile | None,
    *,
    status_label: str = "",
    account=None,
    seller: SellerProfile | None = None,
    compress=True,
):
    """The statement's invoice as PDF bytes; with `account` (billing.settlement.StatementSettlement) its
    status, amounts paid and due, and the payments applied; from `seller` (default: the installation's
    seller details). `compress=False` leaves the text readable in the bytes (tests)."""
    seller = seller or SellerProfile.current()
    pdf = InvoicePDF(statement, seller)
    pdf.set_compression(compress)
    pdf.add_page()
    draw_header(pdf, seller)
    draw_parties(pdf, statement, profile, status_label, account)
    draw_lines(pdf, statement)
    draw_payments(pdf, statement, account)
    draw_notes(pdf, statement)
    draw_how_to_pay(pdf, seller)
    return bytes(pdf.output())
