"""One write unit per service call: begin as a writer, commit at the end, roll back on any error.

A refused change (a validation error, a 403 or 404 from the scope checks) must leave nothing
behind and must not hold SQLite's write lock while the page with the reason is rendered.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import Conflict

from core.database import begin_write
from core.extensions import db

P = ParamSpec("P")
R = TypeVar("R")


def write_unit(service: Callable[P, R]) -> Callable[P, R]:
    """Decorate a service that commits: it starts a write unit and rolls back if it raises.

    A unique-key violation (a concurrent duplicate) becomes ``Conflict`` (409).
    """

    @wraps(service)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        begin_write()
        try:
            return service(*args, **kwargs)
        except IntegrityError:
            # Two requests raced past the same uniqueness check: the database kept one, and
            # the other gets a clear 409 instead of a 500.
            db.session.rollback()
            raise Conflict() from None
        except BaseException:
            db.session.rollback()
            raise

    return wrapped
