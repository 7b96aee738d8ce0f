"""Keyset pagination: "the next 50 after this key", so page 2,000 costs what page 1 costs.

OFFSET pagination reads and throws away every earlier row; a keyset page is one indexed range
scan whatever its position, which is what keeps lists fast with 100,000 officers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

from core.extensions import db

T = TypeVar("T")
PAGE_SIZE = 50


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of rows and the key to ask for the next one (None on the last page)."""

    items: Sequence[T]
    next_after: str | None
    first: bool


def keyset(
    query: Select,
    column: InstrumentedAttribute[Any],
    after: Any,
    *,
    limit: int = PAGE_SIZE,
    descending: bool = False,
    key: Callable[[Any], Any] | None = None,
    scalars: bool = True,
) -> Page[Any]:
    """Rows of ``query`` ordered by the unique ``column``, starting after the key ``after``.

    One row more than the page is fetched to know whether a next page exists without a COUNT.
    """
    if after is not None:
        query = query.where(column < after if descending else column > after)
    query = query.order_by(column.desc() if descending else column.asc()).limit(limit + 1)
    result = db.session.execute(query)
    rows = list(result.scalars() if scalars else result.all())
    more = len(rows) > limit
    rows = rows[:limit]
    next_after = None
    if more and rows:
        last = rows[-1]
        next_after = str(key(last) if key else getattr(last, column.key))
    return Page(items=rows, next_after=next_after, first=after is None)
