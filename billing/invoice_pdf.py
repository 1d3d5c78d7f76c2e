"""The invoice of a statement as a PDF: the same content as the HTML invoice, drawn with fpdf2.

Only the PDF core fonts are used (no font files to ship), and they know Latin-1 only, so every text goes
through `latin1()`: typographic punctuation becomes its ASCII look-alike and anything else outside
Latin-1 (a company name in Cyrillic, an emoji in an address) becomes "?" instead of failing.
"""

import unicodedata
from decimal import Decimal

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from .models import BillingProfile, Statement, StatementLine

SELLER = "Console"
LOOK_ALIKES = str.maketrans(
    {
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2026": "...",
        "\u2022": "*",
    }
)
# Column widths in mm (A4 minus 15 mm margins = 180 mm).
COLUMNS = (("Description", 58), ("Minutes", 22), ("Free", 22), ("Billable", 24), ("Unit price*", 26), ("Amount", 28))


def latin1(text: str) -> str:
    """`text` made printable with a core font: look-alikes for typographic signs, "?" for the rest."""
    text = unicodedata.normalize("NFKC", str(text)).translate(LOOK_ALIKES)
    text = "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch)[0] != "C")
    return text.encode("latin-1", "replace").decode("latin-1")


def money(amount: Decimal, currency: str = "USD") -> str:
    return f"{currency} {amount:,.2f}"


def invoice_facts(statement: Statement, status_label: str) -> list[tuple[str, str]]:
    facts = [
        ("Invoice number", statement.number),
        ("Issue date", f"{statement.issued_at:%Y-%m-%d}"),
        ("Billing period", f"{statement.month:%Y-%m-%d} to {statement.period_end:%Y-%m-%d}"),
        ("Due date", f"{statement.due_date:%Y-%m-%d}"),
    ]
    if status_label:
        facts.append(("Status", status_label))
    return facts


class InvoicePDF(FPDF):
    def __init__(self, statement: Statement):
        super().__init__(format="A4", unit="mm")
        self.statement = statement
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(auto=True, margin=20)
        self.set_title(latin1(f"Invoice {statement.number}"))
        self.set_author(SELLER)
        self.set_creation_date(statement.issued_at)  # the same statement always gives the same bytes

    def footer(self):
        self.set_y(-15)
        self.set_font("Helvetica", size=8)
        self.set_text_color(110)
        self.cell(0, 5, f"{self.statement.number} - page {self.page_no()} of {{nb}}", align="C")

    def line_text(self, text: str, *, size: float = 10, style: str = "", height: float = 5, align: str = "L"):
        self.set_font("Helvetica", style=style, size=size)
        self.cell(0, height, latin1(text), align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def draw_header(pdf: InvoicePDF) -> None:
    pdf.set_font("Helvetica", style="B", size=20)
    pdf.cell(90, 10, SELLER)
    pdf.set_font("Helvetica", style="B", size=16)
    pdf.cell(0, 10, "INVOICE", align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(6)


def draw_parties(pdf: InvoicePDF, statement: Statement, profile, status_label: str) -> None:
    top = pdf.get_y()
    pdf.line_text("Bill to", size=9, style="B")
    pdf.set_font("Helvetica", size=10)
    for line in statement.billed_to(profile):
        pdf.multi_cell(95, 5, latin1(line), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)  # wraps left of the facts
    bottom = pdf.get_y()
    pdf.set_y(top)
    for label, value in invoice_facts(statement, status_label):
        pdf.set_x(115)
        pdf.set_font("Helvetica", size=9)
        pdf.cell(30, 5, latin1(label))
        pdf.set_font("Helvetica", style="B", size=9)
        pdf.cell(0, 5, latin1(value), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(max(bottom, pdf.get_y()) + 8)


def draw_row(pdf: InvoicePDF, cells: list[str], *, style: str = "", fill: bool = False) -> None:
    pdf.set_font("Helvetica", style=style, size=9)
    for index, (text, (_, width)) in enumerate(zip(cells, COLUMNS, strict=True)):
        pdf.cell(width, 7, latin1(text), border="B", align="L" if index == 0 else "R", fill=fill)
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
    draw_row(pdf, [label for label, _ in COLUMNS], style="B", fill=True)
    for line in statement.lines.all():
        draw_row(pdf, line_cells(line, statement.currency))
    pdf.set_font("Helvetica", style="B", size=11)
    pdf.cell(180 - COLUMNS[-1][1], 9, "Total")
    pdf.cell(
        COLUMNS[-1][1], 9, money(statement.total, statement.currency), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )


def draw_notes(pdf: InvoicePDF, statement: Statement) -> None:
    pdf.ln(4)
    pdf.set_text_color(90)
    pdf.line_text("* Unit prices are per 1,000 minutes. Minutes are per user, rounded up per tier.", size=8, height=4)
    pdf.line_text(
        f"This invoice is deducted from the account balance on {statement.due_date:%Y-%m-%d}.", size=8, height=4
    )
    pdf.set_text_color(0)


def invoice_pdf_bytes(statement: Statement, profile: BillingProfile | None, *, status_label: str = "", compress=True):
    """The statement's invoice as PDF bytes. `compress=False` leaves the text readable in the bytes (tests)."""
    pdf = InvoicePDF(statement)
    pdf.set_compression(compress)
    pdf.add_page()
    draw_header(pdf)
    draw_parties(pdf, statement, profile, status_label)
    draw_lines(pdf, statement)
    draw_notes(pdf, statement)
    return bytes(pdf.output())
