"""The one CSV export makes every text cell inert itself, whoever builds the rows."""

import csv
import io
from datetime import date
from decimal import Decimal

from console.csv_export import csv_download


def read(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_text_cells_that_a_spreadsheet_would_run_are_quoted_and_numbers_are_not():
    rows = [["=SUM(A1)", "+1", "-x", "@cmd", "\tTab", "plain", Decimal("-1.50"), -3, date(2026, 1, 2).isoformat()]]
    response = csv_download("x.csv", ["a", "b", "c", "d", "e", "f", "g", "h", "i"], iter(rows))
    assert response["Content-Disposition"] == 'attachment; filename="x.csv"'
    assert read(response)[1] == ["'=SUM(A1)", "'+1", "'-x", "'@cmd", "'\tTab", "plain", "-1.50", "-3", "2026-01-02"]


def test_a_cell_made_inert_already_is_not_quoted_twice():
    assert read(csv_download("x.csv", ["a"], iter([["'=1"]])))[1] == ["'=1"]
