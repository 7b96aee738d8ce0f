"""Additive counts the dashboard reads instead of scanning raw ratings."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Boolean, Date, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db

# item_code values: "TAP" for kiosk taps, a questionnaire item code ("TC1") for survey answers,
# "RESP" for survey respondents (level 0), "reason:<code>" for kiosk follow-up reasons and
# "<question>:<option>" for perception answers (level 0).
TAP = "TAP"
RESPONDENTS = "RESP"


class RollupCount(db.Model):
    """Counts per unit, counter, officer, procedure, local day, channel, item, level and misuse.

    Every dimension is part of the primary key (0 means "none") so ingest can add to a row with
    one upsert in the same transaction as the ratings it counts. Counts are additive: any period,
    subtree or breakdown is a SUM over these rows.
    """

    __tablename__ = "rollup_counts"
    __table_args__ = (
        Index("ix_rollup_counts_day_unit", "day", "unit_id"),
    )

    unit_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    counter_id: Mapped[int] = mapped_column(Integer, primary_key=True, default=0)
    officer_id: Mapped[int] = mapped_column(Integer, primary_key=True, default=0)
    procedure_id: Mapped[int] = mapped_column(Integer, primary_key=True, default=0)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(10), primary_key=True)
    item_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    misuse: Mapped[bool] = mapped_column(Boolean, primary_key=True, default=False)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class RollupHour(db.Model):
    """Kiosk taps per unit, local day, hour and misuse flag: the hour-by-weekday heat map.

    Taps flagged as misuse are kept in cells of their own (``misuse`` true) so the heat map can
    honour the dashboard's misuse filter; flagged, never deleted.
    """

    __tablename__ = "rollup_hours"

    unit_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    hour: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    misuse: Mapped[bool] = mapped_column(Boolean, primary_key=True, default=False)
    satisfied: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int] = mapped_column(BigInteger, default=0)


class RollupUnitDay(db.Model):
    """The same counts as ``RollupCount`` without the counter, officer and procedure dimensions.

    Headline figures (a province for a year) sum these few rows instead of the fine cells; it is
    maintained by ``core.services.rollups.add`` in the same upsert transaction, so the two tables
    always agree (tests/test_dashboard_rollups.py checks it after random ingest).
    """

    __tablename__ = "rollup_unit_days"
    __table_args__ = (Index("ix_rollup_unit_days_day", "day"),)

    unit_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(10), primary_key=True)
    item_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    misuse: Mapped[bool] = mapped_column(Boolean, primary_key=True, default=False)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class RollupUnitMonth(db.Model):
    """``RollupUnitDay`` summed by local month (``month`` is its first day).

    A province-wide year is twelve months of these instead of 365 days of cells; reports read
    whole months here and the days of a partial month from ``RollupUnitDay``. Maintained by
    ``core.services.rollups.add`` in the same transaction.
    """

    __tablename__ = "rollup_unit_months"

    unit_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(10), primary_key=True)
    item_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    misuse: Mapped[bool] = mapped_column(Boolean, primary_key=True, default=False)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class RollupDimMonth(db.Model):
    """``RollupCount`` without the officer, summed by local month (``month`` is its first day).

    Breakdowns by counter, procedure and field over whole months read these instead of a
    month of daily fine cells (the days of a partial month still come from ``RollupCount``).
    Maintained by ``core.services.rollups.add`` in the same transaction, so it always equals
    the sums of the fine cells.
    """

    __tablename__ = "rollup_dim_months"
    __table_args__ = (Index("ix_rollup_dim_months_month_unit", "month", "unit_id"),)

    unit_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    counter_id: Mapped[int] = mapped_column(Integer, primary_key=True, default=0)
    procedure_id: Mapped[int] = mapped_column(Integer, primary_key=True, default=0)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(10), primary_key=True)
    item_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    misuse: Mapped[bool] = mapped_column(Boolean, primary_key=True, default=False)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
