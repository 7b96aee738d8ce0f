"""The fleet page: the kiosks in an administrator's scope with their gaps and refused ratings."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from core.extensions import db
from core.models import Counter, Kiosk, KioskRejection, Unit, User
from core.services.org.scope import visible_units
from core.services.sync.sequences import missing_ranges

PAGE_SIZE = 50
# What the fleet page can be narrowed to: kiosks with ratings flagged or refused.
FLEET_FILTERS = ("pre_enrollment", "clock_suspect", "rejected")


@dataclass
class FleetRow:
    kiosk: Kiosk
    unit_name: str
    counter_name: str
    missing: list[tuple[int, int]]
    # Refused ratings by reason (a code of core.protocol.ITEM_REASONS) and count.
    rejected: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class FleetPage:
    rows: list[FleetRow]
    next_after: int | None


def rejections_by_reason(kiosk_ids: list[int]) -> dict[int, list[tuple[str, int]]]:
    """Each kiosk's refused ratings by reason, most frequent first: (code, count)."""
    refused: dict[int, list[tuple[str, int]]] = {}
    if not kiosk_ids:
        return refused
    for kiosk_id, reason, count in db.session.execute(
        select(KioskRejection.kiosk_id, KioskRejection.reason, func.count())
        .where(KioskRejection.kiosk_id.in_(kiosk_ids))
        .group_by(KioskRejection.kiosk_id, KioskRejection.reason)
        .order_by(KioskRejection.kiosk_id, func.count().desc(), KioskRejection.reason)
    ):
        refused.setdefault(kiosk_id, []).append((reason, int(count)))
    return refused


def fleet(user: User, after: int | None = None, only: str | None = None) -> FleetPage:
    """One page of the kiosks in scope, by id (keyset pagination: no OFFSET scans).

    ``only``: one of FLEET_FILTERS, or None for every kiosk.
    """
    query = (
        select(Kiosk, Unit.name, Counter.name)
        .join(Unit, Kiosk.unit_id == Unit.id).join(Counter, Kiosk.counter_id == Counter.id)
        .where(Kiosk.unit_id.in_(visible_units(user)), Kiosk.synthetic.is_(False))
        .order_by(Kiosk.id).limit(PAGE_SIZE + 1)
    )
    if after is not None:
        query = query.where(Kiosk.id > after)
    if only == "pre_enrollment":
        query = query.where(Kiosk.pre_enrollment_count > 0)
    elif only == "clock_suspect":
        query = query.where(Kiosk.clock_suspect_count > 0)
    elif only == "rejected":
        query = query.where(
            select(KioskRejection.id).where(KioskRejection.kiosk_id == Kiosk.id).exists())
    found = db.session.execute(query).all()
    page = found[:PAGE_SIZE]
    refused = rejections_by_reason([k.id for k, _u, _c in page])
    rows = [FleetRow(k, u, c, missing_ranges(k, limit=5), refused.get(k.id, []))
            for k, u, c in page]
    next_after = rows[-1].kiosk.id if len(found) > PAGE_SIZE else None
    return FleetPage(rows, next_after)
