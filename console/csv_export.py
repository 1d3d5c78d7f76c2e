"""The one CSV export: a streamed download whose user-supplied text cannot run as a spreadsheet formula."""

import csv
from collections.abc import Iterable

from django.http import StreamingHttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(value: str) -> str:
    """Text typed by users (names, references, user agents): a leading =, +, -, @, tab or CR would make a
    spreadsheet run it as a formula, so such text is prefixed with a quote. Numbers are left alone."""
    return "'" + value if value[:1] in FORMULA_STARTS else value


class _Echo:
    def write(self, value):
        return value


def csv_download(filename: str, header: list[str], rows: Iterable[list]) -> StreamingHttpResponse:
    """Stream `header` then `rows` (evaluated lazily) as `filename`. Every text cell is made inert() here, so
    no caller can forget it; numbers, dates and decimals are written as they are."""
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([inert(cell) if isinstance(cell, str) else cell for cell in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
