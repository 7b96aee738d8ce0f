"""Kiosks as the aggregator knows them, and the ratings they send."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.expression import false

from core.extensions import db
from core.models.org import Counter, Unit
from core.models.types import UTCDateTime, utcnow

KIOSK_STATUSES = ("pending", "active", "revoked")
MISUSE_REASONS = ("too_fast", "no_transaction", "repeat_transaction", "rate_limited")


class Kiosk(db.Model):
    """A kiosk device registered for a unit and counter.

    It is enrolled once with a one-time code (only its hash is kept) and then signs every request
    with ``secret``; a rotated key keeps the previous one valid for a grace period so ratings signed
    before the rotation still arrive.
    """

    __tablename__ = "kiosks"
    __table_args__ = (
        CheckConstraint("status IN ('pending','active','revoked')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    counter_id: Mapped[int] = mapped_column(ForeignKey("counters.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    secret: Mapped[str | None] = mapped_column(String(128))
    previous_secret: Mapped[str | None] = mapped_column(String(128))
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    enrollment_code_hash: Mapped[str | None] = mapped_column(String(128), unique=True)
    enrollment_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Sync health, updated at each sync.
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    contiguous_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    max_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    clock_offset_s: Mapped[float | None]
    clock_skew_flag: Mapped[bool] = mapped_column(Boolean, default=False)
    queue_depth: Mapped[int | None] = mapped_column(Integer)
    oldest_unsent_age_s: Mapped[int | None] = mapped_column(Integer)
    app_version: Mapped[str | None] = mapped_column(String(40))
    # Holds only generated demo history (demo/history.py): no key, never enrolled,
    # not on the fleet page; its ratings count in the figures like any other.
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The first sequence number this enrolment sends: a device enrolled again (``--force``) keeps
    # numbering where it was, and the numbers below went to its previous identity.
    first_seq: Mapped[int] = mapped_column(BigInteger, default=1, server_default="1")
    # Recent [receive time, receive time - device clock] pairs; their minimum is the clock
    # offset without network or queue delay (see core.services.sync.contact.observe_clock).
    clock_samples: Mapped[list[list[float]] | None] = mapped_column(JSON)
    pre_enrollment_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    clock_suspect_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    unit: Mapped[Unit] = relationship()
    counter: Mapped[Counter] = relationship()

    def start_key_rotation(self, new_secret: str, grace: timedelta) -> None:
        """Make ``new_secret`` the key; the old one stays valid for ``grace`` (the one rule)."""
        self.previous_secret = self.secret
        self.previous_secret_until = utcnow() + grace
        self.secret = new_secret

    def previous_key_valid(self, at: datetime | None = None) -> bool:
        """True while the key replaced by a rotation may still sign (its grace period lasts)."""
        until = self.previous_secret_until
        return bool(self.previous_secret) and until is not None and until > (at or utcnow())

    def signing_keys(self, at: datetime | None = None) -> list[str]:
        """The keys a signature may use: the current one, then the previous one in grace."""
        keys = [self.secret] if self.secret else []
        if self.previous_key_valid(at):
            keys.append(self.previous_secret)  # type: ignore[arg-type]
        return keys

    def forget_previous_key(self) -> None:
        self.previous_secret = None
        self.previous_secret_until = None


class SyncNonce(db.Model):
    """Nonces seen from each kiosk, so a captured request cannot be replayed.

    The unique key makes the check atomic across aggregator instances when Redis is not configured;
    rows older than the timestamp window are purged.
    """

    __tablename__ = "sync_nonces"
    __table_args__ = (db.UniqueConstraint("kiosk_id", "nonce"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kiosk_id: Mapped[int] = mapped_column(ForeignKey("kiosks.id"))
    nonce: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class KioskRating(db.Model):
    """One tap on a kiosk, as received by the aggregator. Append-only.

    (kiosk_id, seq) and (kiosk_id, uuid) are unique: inserting a rating twice has no effect, which
    is what gives exactly-once effect over at-least-once delivery. A rating's identity belongs to
    the kiosk that made it, so another kiosk's key cannot claim its uuid.
    ``pre_enrollment``: tapped before this kiosk identity was enrolled (counted as any other);
    ``clock_suspect``: the device time is implausible, so it is filed at its receive time.
    ``level`` is on the SIPAS 1-5 scale even for 3-level kiosks (5, 4, 2);
    ``scale`` says which buttons the citizen saw.
    """

    __tablename__ = "kiosk_ratings"
    __table_args__ = (
        db.UniqueConstraint("kiosk_id", "seq"),
        db.UniqueConstraint("kiosk_id", "uuid"),
        CheckConstraint("level BETWEEN 1 AND 5", name="level"),
        CheckConstraint("scale IN (3, 5)", name="scale"),
        Index("ix_kiosk_ratings_unit_day", "unit_id", "local_day"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36))
    kiosk_id: Mapped[int] = mapped_column(ForeignKey("kiosks.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    counter_id: Mapped[int] = mapped_column(ForeignKey("counters.id"), index=True)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"), index=True)
    procedure_id: Mapped[int | None] = mapped_column(ForeignKey("procedures.id"), index=True)
    dossier_code: Mapped[str | None] = mapped_column(String(64))
    scale: Mapped[int] = mapped_column(SmallInteger)
    level: Mapped[int] = mapped_column(SmallInteger)
    reasons: Mapped[list[str] | None] = mapped_column(JSON)
    misuse: Mapped[str | None] = mapped_column(String(20))
    questionnaire_version: Mapped[int | None] = mapped_column(Integer)
    device_time: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    local_day: Mapped[date] = mapped_column(Date)
    local_hour: Mapped[int] = mapped_column(SmallInteger)
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    pre_enrollment: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    clock_suspect: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class KioskRejection(db.Model):
    """A rating the aggregator refused, with the reason it told the kiosk.

    Kept so that a refusal is never silent (the fleet page counts them by reason) and so that a
    refused sequence number is not reported as a gap. Removed when the same rating is stored later.
    """

    __tablename__ = "kiosk_rejections"
    __table_args__ = (
        db.UniqueConstraint("kiosk_id", "seq", "reason"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kiosk_id: Mapped[int] = mapped_column(ForeignKey("kiosks.id"))
    seq: Mapped[int | None] = mapped_column(BigInteger)
    uuid: Mapped[str | None] = mapped_column(String(36))
    reason: Mapped[str] = mapped_column(String(40))
    rejected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
