"""The kiosk node's local tables: its outbox of ratings and its own state.

These live in the kiosk's own SQLite file (the same schema and migrations as the aggregator, of
which a kiosk uses only these tables). They sit with the other models so that one metadata (and
Alembic) sees every table without the aggregator importing the kiosk package.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.models.types import UTCDateTime, utcnow

OUTBOX_STATUSES = ("pending", "sent", "rejected")


class KioskState(db.Model):
    """The single row of this kiosk's identity, sequence counter, configuration and sync health.

    The HMAC secret itself is kept in a file with owner-only permissions, not here.
    """

    __tablename__ = "kiosk_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    kiosk_public_id: Mapped[str | None] = mapped_column(String(36))
    server_url: Mapped[str | None] = mapped_column(String(300))
    next_seq: Mapped[int] = mapped_column(BigInteger, default=1)
    # Configuration pulled from the aggregator (counter, roster, scale, intervals, languages).
    config: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    config_etag: Mapped[str | None] = mapped_column(String(80))
    clock_offset_s: Mapped[float | None]
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sync_outcome: Mapped[str | None] = mapped_column(String(300))
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_tap_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboxRating(db.Model):
    """A tap stored on the kiosk's disk before the screen says thanks; sent by the sync worker.

    uuid and seq are assigned in the same transaction that stores the tap. ``finalised_at`` is set
    when the follow-up is answered, skipped or timed out; only finalised ratings are sent, and a
    rating is marked sent only when the aggregator answered accepted or duplicate for it.
    """

    __tablename__ = "outbox_ratings"
    __table_args__ = (
        CheckConstraint("status IN ('pending','sent','rejected')", name="status"),
        CheckConstraint("level BETWEEN 1 AND 5", name="level"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    scale: Mapped[int] = mapped_column(SmallInteger)
    level: Mapped[int] = mapped_column(SmallInteger)
    reasons: Mapped[list[str] | None] = mapped_column(JSON)
    officer_code: Mapped[str | None] = mapped_column(String(40))
    dossier_code: Mapped[str | None] = mapped_column(String(64))
    procedure_code: Mapped[str | None] = mapped_column(String(60))
    misuse: Mapped[str | None] = mapped_column(String(20))
    device_time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finalised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    reject_reason: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class ArmedTransaction(db.Model):
    """A transaction the counter's software (or the officer) armed; the next tap carries it."""

    __tablename__ = "armed_transactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_code: Mapped[str] = mapped_column(String(64), index=True)
    procedure_code: Mapped[str | None] = mapped_column(String(60))
    armed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rating_uuid: Mapped[str | None] = mapped_column(String(36))


class OfficerShift(db.Model):
    """An officer signed in at this kiosk, from sign-in to sign-out."""

    __tablename__ = "officer_shifts"

    id: Mapped[int] = mapped_column(primary_key=True)
    officer_code: Mapped[str] = mapped_column(String(40))
    officer_name: Mapped[str] = mapped_column(String(200))
    signed_in_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    signed_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
