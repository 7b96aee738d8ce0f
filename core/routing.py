"""URL converters shared by every blueprint, and ids read from query strings."""

from __future__ import annotations

from flask import Flask, request
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

# The largest id an Integer column holds on PostgreSQL (int4): most tables' primary keys.
MAX_ID = 2**31 - 1
# The largest id of the BigInteger tables (ratings, survey responses, audit log).
MAX_BIG_ID = 2**63 - 1


class IdConverter(IntegerConverter):
    """``<int:...>`` that matches only values an Integer id column can hold.

    Werkzeug's converter accepts any run of digits; an id such as 2**63 then reached the database
    driver and failed there (a 500 on SQLite, "integer out of range" on PostgreSQL). Out of range
    now means "no such page": a 404.
    """

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = MAX_ID, signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


class BigIdConverter(IdConverter):
    """``<bigint:...>`` for the ids of BigInteger tables."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = MAX_BIG_ID, signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def init_app(app: Flask) -> None:
    """Install the converters; call before any blueprint adds its rules."""
    app.url_map.converters["int"] = IdConverter
    app.url_map.converters["bigint"] = BigIdConverter

    @app.before_request
    def _no_nul_in_query() -> None:
        # PostgreSQL cannot store or even compare text with a NUL byte: a NUL in ``?after=`` or a
        # search box reached the database and failed there (a 500). No query argument of this
        # app can mean anything with a NUL in it, so it is refused before any view runs.
        if any("\x00" in key or "\x00" in value for key, value in request.args.items(multi=True)):
            error = BadRequest()
            error.sipas_message = _(  # type: ignore[attr-defined]
                "The address contains a character that is not allowed (a NUL byte).")
            raise error


def parse_id(raw: str | None, maximum: int = MAX_ID) -> int | None:
    """An id from a query string or form, or None when it is not one.

    Only ASCII digits count: ``str.isdigit`` also accepts "²" (which ``int`` refuses) and
    Arabic-Indic digits; an id beyond ``maximum`` cannot exist, so it is None as well.
    """
    value = (raw or "").strip()
    if not value or len(value) > 19 or not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if number <= maximum else None
