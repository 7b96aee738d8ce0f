"""The transaction convention: services flush, the caller commits once.

A service that writes is decorated ``@write_unit``: it begins a write unit (BEGIN IMMEDIATE on
SQLite, so two writers never deadlock), makes its changes and flushes them, and rolls back when
it raises. It never commits. The caller ends the unit exactly once:

- a request: ``core.database.init_app`` commits after the view has returned its response (before
  the first byte is sent, so an acknowledgement is never sent for a change that is not on disk);
  an exception that escapes the view, ``abort()`` included, rolls back instead;
- a CLI command or a background loop: it calls ``db.session.commit()`` itself when its work is done.

A refused change (a ``ServiceError``, a 403 or 404 from the scope checks) leaves nothing behind
and does not hold SQLite's write lock while the page with the reason is rendered.
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
    """Decorate a service that writes: begin a write unit, flush at the end, roll back on error.

    A unique-key violation (a concurrent duplicate) becomes ``Conflict`` (409).
    """

    @wraps(service)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        begin_write()
        try:
            result = service(*args, **kwargs)
            db.session.flush()  # a violated constraint shows here, inside the unit, not at commit
            return result
        except IntegrityError:
            # Two requests raced past the same uniqueness check: the database kept one, and
            # the other gets a clear 409 instead of a 500.
            db.session.rollback()
            raise Conflict() from None
        except BaseException:
            db.session.rollback()
            raise

    return wrapped
