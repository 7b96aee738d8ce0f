"""Each kiosk's sequence numbers: the highest contiguous one and the gaps above it.

A number is accounted for when a rating with it is stored or was refused with a reason; numbers
below the enrolment's ``first_seq`` went to the device's previous identity.
"""

from __future__ import annotations

from sqlalchemy import func, literal, select, union_all

from core.extensions import db
from core.models import Kiosk, KioskRating, KioskRejection


def _accounted(kiosk: Kiosk, above: int):
    """Sequence numbers above ``above`` that this kiosk's ratings used: stored or refused.

    UNION ALL of two index range scans (a number may come twice; callers skip repeats), so a
    LIMIT on it reads only the rows it returns.
    """
    stored = select(KioskRating.seq.label("seq")).where(
        KioskRating.kiosk_id == kiosk.id, KioskRating.seq > above)
    refused = select(KioskRejection.seq.label("seq")).where(
        KioskRejection.kiosk_id == kiosk.id, KioskRejection.seq > above)
    return union_all(stored, refused).subquery()


def _base(kiosk: Kiosk) -> int:
    """The highest number known not to be missing: the contiguous run, at least up to the
    numbers an earlier enrolment of the same device used."""
    return max(kiosk.contiguous_seq or 0, (kiosk.first_seq or 1) - 1)


def advance_contiguous(kiosk: Kiosk) -> None:
    """Move the highest contiguous sequence number forward over numbers now accounted for
    (stored, or refused with a reason).

    Reads only as many rows as it advances (plus one): a gap stops it at once.
    """
    current = _base(kiosk)
    chunk = 5000
    while True:
        accounted = _accounted(kiosk, current)
        seqs = db.session.scalars(
            select(accounted.c.seq).order_by(accounted.c.seq).limit(chunk)
        ).all()
        for seq in seqs:
            if seq <= current:
                continue
            if seq != current + 1:
                kiosk.contiguous_seq = current
                return
            current = seq
        if len(seqs) < chunk:
            break
    kiosk.contiguous_seq = current


def missing_ranges(kiosk: Kiosk, limit: int = 20) -> list[tuple[int, int]]:
    """Missing sequence ranges (first, last) above the highest contiguous number.

    Numbers below the enrolment's ``first_seq`` belong to the device's previous identity and
    refused numbers are accounted for (the fleet page lists refusals on their own).
    """
    base = _base(kiosk)
    if (kiosk.max_seq or 0) <= base:
        return []
    accounted = _accounted(kiosk, base)
    lagged = (
        select(accounted.c.seq.label("seq"),
               func.lag(accounted.c.seq).over(order_by=accounted.c.seq).label("prev"))
        .subquery()
    )
    prev = func.coalesce(lagged.c.prev, literal(base))
    rows = db.session.execute(
        select(prev, lagged.c.seq)
        .where(lagged.c.seq - prev > 1)
        .order_by(lagged.c.seq).limit(limit)
    ).all()
    return [(int(before) + 1, seq - 1) for before, seq in rows]
