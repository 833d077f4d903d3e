"""CSV exports: the handling marking on the first line and in a header, formulas made inert."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from flask import Response

# Cells a spreadsheet would run as a formula: exported with a leading apostrophe.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def inert(cells: Iterable[Any]) -> list[str]:
    """Cells as text, any that a spreadsheet would evaluate made inert."""
    out = []
    for cell in cells:
        text = str(cell)
        out.append("'" + text if text.startswith(FORMULA_START) else text)
    return out


def csv_response(filename: str, marking: str, rows: Iterable[Sequence[Any]]) -> Response:
    """A CSV download: the marking alone on the first line, then the rows, every cell inert."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([marking])
    writer.writerows(inert(row) for row in rows)
    response = Response(buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Handling-Marking"] = marking
    return response
