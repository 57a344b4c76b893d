"""CSV downloads (the queue's export, the support reports): written row by row into a streamed response, so
a download of a million tickets holds one batch of lines in memory, never the file."""

import csv
from collections.abc import Iterable, Sequence

from django.http import StreamingHttpResponse

# A cell a spreadsheet would run as a formula (CSV injection) is written with a leading apostrophe.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
LINES_PER_CHUNK = 500


class _Echo:
    """A file-like object whose write() hands the line back, for csv.writer in a generator."""

    def write(self, value):
        return value


def cell(value):
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return "" if value is None else value


def csv_lines(header: Sequence[str], rows: Iterable[Sequence]):
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    batch = []
    for row in rows:
        batch.append(writer.writerow([cell(value) for value in row]))
        if len(batch) >= LINES_PER_CHUNK:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)


def streamed_csv(filename: str, header: Sequence[str], rows: Iterable[Sequence]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_lines(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response
