"""The product's one clock (core.clock): what a test pins is what every "now" reads."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from core import clock
from core.models import utcnow
from core.services.reporting import periods

# 17:30 UTC on New Year's Eve is already 00:30 on 1 January in Hanoi.
HANOI_NEW_YEAR = datetime(2026, 12, 31, 17, 30, tzinfo=UTC)


def test_a_pinned_clock_is_what_utcnow_and_the_local_day_read():
    with clock.pinned(HANOI_NEW_YEAR):
        assert utcnow() == HANOI_NEW_YEAR and utcnow().tzinfo is not None
        assert clock.local_today() == date(2027, 1, 1)
    assert utcnow() != HANOI_NEW_YEAR  # unpinned again after the block


def test_the_default_period_is_the_current_month_in_hanoi_not_in_utc():
    with clock.pinned(HANOI_NEW_YEAR):
        month = periods.parse_period(None)
        assert (month.start, month.end) == (date(2027, 1, 1), date(2027, 1, 31))
        assert periods.parse_period("quarter").value == "2027-Q1"
        assert periods.parse_period("year").value == "2027"


def test_pins_nest_and_a_naive_time_is_refused():
    with clock.pinned(HANOI_NEW_YEAR), clock.pinned(datetime(2028, 2, 29, 5, tzinfo=UTC)):
        assert clock.local_today() == date(2028, 2, 29)
    with pytest.raises(ValueError, match="timezone-aware"), clock.pinned(datetime(2027, 1, 1)):
        pass
