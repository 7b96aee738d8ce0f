"""The outbox as the technician and the sync worker see it: what waits to be sent, what the
aggregator refused (by its machine code; the kiosk's views hold the words), and the sync health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select

from core.extensions import db
from core.models.kiosk_local import OutboxRating
from core.models.types import utcnow
from core.version import __version__
from kiosk import identity
from kiosk.configuration import state
from kiosk.staff import on_duty


@dataclass(frozen=True)
class Rejected:
    seq: int
    uuid: str
    device_time: datetime
    code: str  # the aggregator's machine code (core.protocol.ITEM_REASONS)


@dataclass(frozen=True)
class Status:
    version: str
    enrolled: bool
    kiosk_id: str | None
    aggregator: str | None
    enrolled_at: datetime | None
    waiting: int
    waiting_open: int
    oldest_waiting_age_s: int | None
    next_seq: int
    total: int
    last_sync_at: datetime | None
    last_sync_outcome: str | None
    last_success_at: datetime | None
    clock_offset_s: float | None
    rejected: list[Rejected]
    rejected_total: int
    rejected_by_reason: list[tuple[str, int]]  # code, count
    officer_name: str | None


def queue_stats(now: datetime) -> tuple[int, int | None]:
    """Ratings not yet confirmed by the aggregator and the oldest one's age in whole seconds.

    The one count behind the status page and the sync worker's heartbeat.
    """
    depth, oldest = db.session.execute(
        select(func.count(OutboxRating.id), func.min(OutboxRating.device_time))
        .where(OutboxRating.status == "pending")
    ).one()
    age = None
    if oldest is not None:
        oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
        age = max(0, int((now - oldest).total_seconds()))
    return int(depth), age


def reject_code(stored: str | None) -> str:
    """The machine code of a stored refusal ("seq_conflict: Another rating ..." -> seq_conflict)."""
    return (stored or "rejected").split(":", 1)[0].strip() or "rejected"


def rejected_by_reason() -> list[tuple[str, int]]:
    """Refused ratings counted by reason code, most frequent first."""
    counts: dict[str, int] = {}
    for stored, count in db.session.execute(
        select(OutboxRating.reject_reason, func.count())
        .where(OutboxRating.status == "rejected").group_by(OutboxRating.reject_reason)
    ):
        code = reject_code(stored)
        counts[code] = counts.get(code, 0) + int(count)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def status(rejected_limit: int = 50) -> Status:
    """Everything the technician's status page (and the setup page) shows, in one place."""
    current = state()
    credentials = identity.load()
    waiting, oldest_age = queue_stats(utcnow())
    waiting_open = db.session.scalar(select(func.count()).select_from(OutboxRating).where(
        OutboxRating.status == "pending", OutboxRating.finalised_at.is_(None))) or 0
    total = db.session.scalar(select(func.count()).select_from(OutboxRating)) or 0
    rejected_total = db.session.scalar(select(func.count()).select_from(OutboxRating).where(
        OutboxRating.status == "rejected")) or 0
    rejected = [
        Rejected(row.seq, row.uuid, row.device_time, reject_code(row.reject_reason))
        for row in db.session.scalars(
            select(OutboxRating).where(OutboxRating.status == "rejected")
            .order_by(OutboxRating.seq.desc()).limit(rejected_limit))
    ]
    shift = on_duty()
    return Status(
        rejected_by_reason=rejected_by_reason(),
        version=__version__,
        enrolled=credentials is not None,
        kiosk_id=(credentials.kiosk_id if credentials else None)
        or (current.kiosk_public_id if current else None),
        aggregator=(credentials.server_url if credentials else None)
        or (current.server_url if current else None),
        enrolled_at=current.enrolled_at if current else None,
        waiting=waiting,
        waiting_open=waiting_open,
        oldest_waiting_age_s=oldest_age,
        next_seq=(current.next_seq if current else None) or 1,
        total=total,
        last_sync_at=current.last_sync_at if current else None,
        last_sync_outcome=current.last_sync_outcome if current else None,
        last_success_at=current.last_success_at if current else None,
        clock_offset_s=current.clock_offset_s if current else None,
        rejected=rejected,
        rejected_total=rejected_total,
        officer_name=shift.officer_name if shift else None,
    )
