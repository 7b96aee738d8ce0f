"""One write unit per service call: begin as a writer, commit at the end, roll back on any error.

A refused change (a validation error, a 403 or 404 from the scope checks) must leave nothing
behind and must not hold SQLite's write lock while the page with the reason is rendered.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from core.database import begin_write
from core.extensions import db

P = ParamSpec("P")
R = TypeVar("R")


def write_unit(service: Callable[P, R]) -> Callable[P, R]:
    """Decorate a service that commits: it starts a write unit and rolls back if it raises."""

    @wraps(service)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        begin_write()
        try:
            return service(*args, **kwargs)
        except BaseException:
            db.session.rollback()
            raise

    return wrapped
