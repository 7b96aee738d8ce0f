"""Versioned questionnaires and the phone-survey responses that answer them."""

from __future__ import annotations

from datetime import date, datetime
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
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.models.types import UTCDateTime, utcnow

CHANNELS = ("kiosk", "kiosk_qr", "poster", "api")


class Questionnaire(db.Model):
    """One version of a questionnaire, stored whole as data (see core/questionnaire_definition.py).

    A change (for instance switching the policy module on) makes a new version; responses keep
    the version they answered, so a quarter stays comparable after the change.
    """

    __tablename__ = "questionnaires"
    __table_args__ = (db.UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    method_version: Mapped[str] = mapped_column(String(40))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    policy_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SurveyResponse(db.Model):
    """A completed phone survey. ``token_key`` is unique: one response per transaction token."""

    __tablename__ = "survey_responses"
    __table_args__ = (
        CheckConstraint("channel IN ('kiosk','kiosk_qr','poster','api')", name="channel"),
        Index("ix_survey_responses_unit_day", "unit_id", "local_day"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    token_key: Mapped[str] = mapped_column(String(80), unique=True)
    channel: Mapped[str] = mapped_column(String(10))
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaires.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    counter_id: Mapped[int | None] = mapped_column(ForeignKey("counters.id"), index=True)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"), index=True)
    procedure_id: Mapped[int | None] = mapped_column(ForeignKey("procedures.id"), index=True)
    dossier_code: Mapped[str | None] = mapped_column(String(64))
    # The kiosk tap this survey follows; it may arrive later than the survey, so no foreign key.
    kiosk_rating_uuid: Mapped[str | None] = mapped_column(String(36), index=True)
    # ... and the kiosk that made it: a rating uuid is unique only within its kiosk.
    kiosk_id: Mapped[int | None] = mapped_column(ForeignKey("kiosks.id"))
    trips: Mapped[str | None] = mapped_column(String(10))
    harassment: Mapped[str | None] = mapped_column(String(10))
    informal_payment: Mapped[str | None] = mapped_column(String(10))
    submission_channel: Mapped[str | None] = mapped_column(String(20))
    priorities: Mapped[list[str] | None] = mapped_column(JSON)
    comment: Mapped[str | None] = mapped_column(Text)
    comment_hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    comment_flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    misuse: Mapped[str | None] = mapped_column(String(20))
    locale: Mapped[str] = mapped_column(String(5), default="vi")
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    local_day: Mapped[date] = mapped_column(Date)

    questionnaire: Mapped[Questionnaire] = relationship()
    answers: Mapped[list[SurveyAnswer]] = relationship(
        back_populates="response", cascade="all, delete-orphan"
    )


class SurveyAnswer(db.Model):
    """One rated item of a response; level 0 is "no opinion" and never counts as valid."""

    __tablename__ = "survey_answers"
    __table_args__ = (CheckConstraint("level BETWEEN 0 AND 5", name="level"),)

    response_id: Mapped[int] = mapped_column(
        ForeignKey("survey_responses.id", ondelete="CASCADE"), primary_key=True
    )
    item_code: Mapped[str] = mapped_column(String(20), primary_key=True)
    level: Mapped[int] = mapped_column(SmallInteger)

    response: Mapped[SurveyResponse] = relationship(back_populates="answers")


class SurveyDraft(db.Model):
    """Answers in progress for a token, so a citizen whose phone locks resumes where they left."""

    __tablename__ = "survey_drafts"

    token_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    step: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
