"""The organisation: units in a tree, counters, officers, procedures and their fields."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.models.types import UTCDateTime, utcnow
from core.sipas import SCALES

UNIT_LEVELS = ("province", "department", "district", "commune", "service_centre")


class Unit(db.Model):
    """An organisational unit (province, department, district, commune, service centre).

    ``path`` is the materialised path of ids ("/1/4/17/") so a subtree is one indexed prefix
    query; moving a unit rewrites the paths of its subtree in one statement.
    """

    __tablename__ = "units"
    __table_args__ = (
        CheckConstraint(
            "level IN ('province','department','district','commune','service_centre')",
            name="level",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    level: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(String(400), default="/", index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # {"mon": [["07:30","11:30"],["13:30","17:00"]], ...} in Asia/Ho_Chi_Minh local time.
    opening_hours: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    parent: Mapped[Unit | None] = relationship(remote_side=[id])

    def __repr__(self) -> str:
        return f"<Unit {self.code} {self.level}>"


class Counter(db.Model):
    """A one-stop counter (quầy) of a unit, with the kiosk settings that apply at it."""

    __tablename__ = "counters"
    __table_args__ = (
        db.UniqueConstraint("unit_id", "code"),
        CheckConstraint(f"scale IN ({', '.join(map(str, SCALES))})", name="scale"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    scale: Mapped[int] = mapped_column(Integer, default=3)
    min_interval_s: Mapped[int] = mapped_column(Integer, default=5)
    require_transaction: Mapped[bool] = mapped_column(Boolean, default=False)
    idle_timeout_s: Mapped[int] = mapped_column(Integer, default=15)
    followup_timeout_s: Mapped[int] = mapped_column(Integer, default=20)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    unit: Mapped[Unit] = relationship()


class Officer(db.Model):
    """A civil servant (công chức) who serves at counters; the PIN signs in at the kiosk."""

    __tablename__ = "officers"
    __table_args__ = (db.UniqueConstraint("unit_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    counter_id: Mapped[int | None] = mapped_column(ForeignKey("counters.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    full_name: Mapped[str] = mapped_column(String(200))
    pin_hash: Mapped[str | None] = mapped_column(String(200))
    photo_url: Mapped[str | None] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    unit: Mapped[Unit] = relationship()
    counter: Mapped[Counter | None] = relationship()


class ProcedureField(db.Model):
    """A field (lĩnh vực) grouping administrative procedures."""

    __tablename__ = "procedure_fields"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(300))


class Procedure(db.Model):
    """An administrative procedure (thủ tục hành chính) of the national catalogue."""

    __tablename__ = "procedures"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(500))
    field_id: Mapped[int | None] = mapped_column(ForeignKey("procedure_fields.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    field: Mapped[ProcedureField | None] = relationship()


