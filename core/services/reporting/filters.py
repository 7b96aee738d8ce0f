"""What a report is about: unit subtree, period, channels, misuse; parsed from GET parameters.

Scoping by unit is enforced here with ``core.services.org.scope``: a unit out of the user's scope is
a 404, as if it did not exist.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from sqlalchemy import select

from core.extensions import db
from core.models import Unit, User
from core.services.org import scope
from core.services.reporting.errors import ReportError
from core.services.reporting.periods import Period, parse_period

SURVEY_CHANNELS = ("kiosk_qr", "poster", "api")
ALL_CHANNELS = ("kiosk", *SURVEY_CHANNELS)


@dataclass(frozen=True)
class Filters:
    """What a report is about: a unit's subtree, a period, channels, and whether misuse counts."""

    unit: Unit
    period: Period
    channels: tuple[str, ...] = ALL_CHANNELS
    include_misuse: bool = False

    @property
    def survey_channels(self) -> tuple[str, ...]:
        return tuple(c for c in self.channels if c in SURVEY_CHANNELS)

    @property
    def kiosk(self) -> bool:
        return "kiosk" in self.channels

    def for_period(self, period: Period) -> Filters:
        return replace(self, period=period)

    def for_unit(self, unit: Unit) -> Filters:
        return replace(self, unit=unit)

    def query_args(self) -> dict[str, str | list[str]]:
        """The filter as GET parameters, to keep it in links and forms."""
        args: dict[str, str | list[str]] = {"unit": str(self.unit.id), "period": self.period.kind}
        if self.period.kind == "custom":
            args["start"] = self.period.start.isoformat()
            args["end"] = self.period.end.isoformat()
        else:
            args["value"] = self.period.value
        if self.channels != ALL_CHANNELS:
            args["channel"] = list(self.channels)
        if self.include_misuse:
            args["misuse"] = "1"
        return args


def default_unit(user: User) -> Unit:
    """Where a user's dashboard opens: their own unit, or the first top-level unit for admins."""
    root = scope.root_unit(user)
    if root is not None:
        return root
    unit = db.session.scalar(
        select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id).limit(1)
    )
    if unit is None:
        raise ReportError("unit", "there is no unit yet")
    return unit


def build_filters(user: User, args: Mapping[str, object]) -> Filters:
    """Parse dashboard/API filter parameters for a user; units out of scope are a 404."""
    getlist = getattr(args, "getlist", None)
    unit_arg = _one(args.get("unit"))
    unit = resolve_unit(user, unit_arg) if unit_arg else default_unit(user)
    period = parse_period(
        _one(args.get("period")), _one(args.get("value")), _one(args.get("start")),
        _one(args.get("end")),
    )
    raw_channels = getlist("channel") if getlist else args.get("channel")
    if isinstance(raw_channels, str):
        raw_channels = raw_channels.split(",")
    chosen = [c.strip() for c in (raw_channels or []) if c and c.strip()]
    unknown = [c for c in chosen if c not in ALL_CHANNELS]
    if unknown:
        raise ReportError("channel", f"unknown channel {unknown[0]!r}")
    channels = tuple(c for c in ALL_CHANNELS if c in chosen) or ALL_CHANNELS
    misuse = _one(args.get("misuse")) in ("1", "true", "yes", "on")
    return Filters(unit=unit, period=period, channels=channels, include_misuse=misuse)


def _one(value: object) -> str | None:
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    return None if value is None else str(value)


_CODE_RE = re.compile(r"^[\w.\-]{1,40}$")


def resolve_unit(user: User, ref: str) -> Unit:
    """A unit by id or code that the user may see, else 404 (out of scope looks like missing)."""
    ref = ref.strip()
    if ref.isascii() and ref.isdigit() and len(ref) < 10:
        return scope.get_unit(user, int(ref))
    if not _CODE_RE.match(ref):
        # Not a unit code at all (control characters, too long): PostgreSQL would refuse a NUL.
        return scope.get_unit(user, -1)
    unit = db.session.scalar(select(Unit).where(Unit.code == ref))
    if unit is None:
        return scope.get_unit(user, -1)
    return scope.get_unit(user, unit.id)


def unit_choices(user: User) -> list[Unit]:
    """Units the user may pick in the filter, in tree order."""
    stmt = select(Unit).where(Unit.id.in_(scope.visible_units(user)), Unit.active.is_(True))
    return sorted(db.session.scalars(stmt), key=lambda u: u.path)


def public_unit(code: str) -> Unit | None:
    """An active unit for the public transparency page, by code."""
    if not _CODE_RE.match(code):
        return None
    return db.session.scalar(select(Unit).where(Unit.code == code, Unit.active.is_(True)))


def public_filters(unit: Unit, args: Mapping[str, object]) -> Filters:
    """Public page filters: the period only; misuse always left out, every channel."""
    kind = _one(args.get("period")) or "year"
    period = parse_period(kind, _one(args.get("value")), _one(args.get("start")),
                          _one(args.get("end")))
    return Filters(unit=unit, period=period)
