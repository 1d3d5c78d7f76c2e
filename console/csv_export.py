"""The one CSV export: a streamed download whose user-supplied text cannot run as a spreadsheet formula."""

import csv
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    """Text typed by users (names, references, user agents): a leading =, +, -, @, tab or CR would make a
    spreadsheet run it as a formula, so such text is prefixed with a quote. Numbers are left alone. Applying it
    twice changes nothing; `csv_download` applies it to every text cell, so callers need not."""
    return "'" + value if value[:1] in FORMULA_STARTS else value


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_download(filename: str, header: list[str], rows: Iterable[list]) -> StreamingHttpResponse:
    """Stream `header` then `rows` (evaluated lazily) as `filename`. Every text cell goes through
    spreadsheet_safe() here, so no caller can forget it; numbers, dates and decimals are written as they are."""
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([spreadsheet_safe(cell) if isinstance(cell, str) else cell for cell in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
