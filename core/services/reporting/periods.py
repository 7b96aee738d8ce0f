"""Reporting periods: a month, quarter, year or custom range of local days, and its predecessor.

The local day comes from ``core.clock`` (the one home of the product's time zone).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from core import clock
from core.services.reporting.errors import ReportError

PERIOD_KINDS = ("month", "quarter", "year", "custom")
MAX_CUSTOM_DAYS = 3 * 366


@dataclass(frozen=True)
class Period:
    """A range of local days, both ends included, and how it was chosen."""

    kind: str
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def value(self) -> str:
        """The period as written in a filter ("2026-11", "2026-Q4", "2026" or "start/end")."""
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        if self.kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        if self.kind == "year":
            return str(self.start.year)
        return f"{self.start.isoformat()}/{self.end.isoformat()}"

    def previous(self) -> Period:
        """The previous equivalent period: the month, quarter or year before, or for a custom
        range the same number of days just before it."""
        if self.kind == "month":
            return month_period(*shift_month(self.start.year, self.start.month, -1))
        if self.kind == "quarter":
            year, month = shift_month(self.start.year, self.start.month, -3)
            return quarter_period(year, (month - 1) // 3 + 1)
        if self.kind == "year":
            return year_period(self.start.year - 1)
        end = self.start - timedelta(days=1)
        return Period("custom", end - timedelta(days=self.days - 1), end)


def shift_month(year: int, month: int, by: int) -> tuple[int, int]:
    """(year, month) ``by`` months later (earlier when negative)."""
    index = year * 12 + (month - 1) + by
    return index // 12, index % 12 + 1


def month_end(year: int, month: int) -> date:
    """The last day of a month."""
    y, m = shift_month(year, month, 1)
    return date(y, m, 1) - timedelta(days=1)


def month_period(year: int, month: int) -> Period:
    return Period("month", date(year, month, 1), month_end(year, month))


def quarter_period(year: int, quarter: int) -> Period:
    first = 3 * (quarter - 1) + 1
    return Period("quarter", date(year, first, 1), month_end(year, first + 2))


def year_period(year: int) -> Period:
    return Period("year", date(year, 1, 1), date(year, 12, 31))


_MONTH_RE = re.compile(r"^(\d{4})-(\d{1,2})$")
_QUARTER_RE = re.compile(r"^(\d{4})-?[Qq]([1-4])$")
_YEAR_RE = re.compile(r"^(\d{4})$")


MIN_YEAR, MAX_YEAR = 2000, 2100


def _check_year(year: int) -> int:
    # Bounded so the previous period and the trend never step outside the calendar.
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ReportError("period", f"the year must be between {MIN_YEAR} and {MAX_YEAR}")
    return year


def parse_period(
    kind: str | None, value: str | None = None, start: str | None = None,
    end: str | None = None, today: date | None = None,
) -> Period:
    """A period from filter values; the current (local) month when nothing is given."""
    today = today or clock.local_today()
    kind = (kind or "month").strip().lower()
    value = (value or "").strip()
    if kind not in PERIOD_KINDS:
        raise ReportError("period", f"unknown period kind {kind!r}")
    try:
        if kind == "month":
            if not value:
                return month_period(today.year, today.month)
            match = _MONTH_RE.match(value)
            if not match:
                raise ReportError("period", f"a month is written YYYY-MM, got {value!r}")
            return month_period(_check_year(int(match[1])), int(match[2]))
        if kind == "quarter":
            if not value:
                return quarter_period(today.year, (today.month - 1) // 3 + 1)
            match = _QUARTER_RE.match(value)
            if not match:
                raise ReportError("period", f"a quarter is written YYYY-Qn, got {value!r}")
            return quarter_period(_check_year(int(match[1])), int(match[2]))
        if kind == "year":
            if not value:
                return year_period(today.year)
            match = _YEAR_RE.match(value)
            if not match:
                raise ReportError("period", f"a year is written YYYY, got {value!r}")
            return year_period(_check_year(int(match[1])))
        if (not start or not end) and "/" in value:
            start, end = value.split("/", 1)
        first = date.fromisoformat((start or "").strip())
        last = date.fromisoformat((end or "").strip())
    except ValueError as exc:
        if isinstance(exc, ReportError):
            raise
        raise ReportError("period", f"not a valid date: {exc}") from None
    if last < first:
        raise ReportError("period", "the end of the range is before its start")
    _check_year(first.year)
    _check_year(last.year)
    if (last - first).days + 1 > MAX_CUSTOM_DAYS:
        raise ReportError("period", f"a custom range is at most {MAX_CUSTOM_DAYS} days")
    return Period("custom", first, last)
