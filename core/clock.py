"""The product's one reading of the wall clock, so that a test can pin "now".

`now()` is timezone-aware UTC; `local_today()` is the local (Asia/Ho_Chi_Minh) day the
dashboard's default periods start from. Code that needs "now" for a stored timestamp or a
period reads it here (through `core.models.utcnow()` or `local_today()`); tests pin it with
`pinned(...)` instead of depending on the day they run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

_pinned: datetime | None = None


def now() -> datetime:
    """The current moment in UTC (the pinned one while a test pins it)."""
    return _pinned if _pinned is not None else datetime.now(UTC)


def local_today() -> date:
    """Today's date in Vietnam."""
    return now().astimezone(LOCAL_TZ).date()


@contextmanager
def pinned(at: datetime) -> Iterator[datetime]:
    """Make `now()` answer `at` (timezone-aware) until the block ends."""
    global _pinned
    if at.tzinfo is None:
        raise ValueError("pin the clock to a timezone-aware datetime")
    before, _pinned = _pinned, at.astimezone(UTC)
    try:
        yield _pinned
    finally:
        _pinned = before
