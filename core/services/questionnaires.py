"""Questionnaire versions stored as data."""

from __future__ import annotations

from sqlalchemy import select

from core.extensions import db
from core.models import Questionnaire
from core.questionnaire import default_definition, load_definition


def active(code: str = "sipas-service") -> Questionnaire | None:
    return db.session.scalar(
        select(Questionnaire).where(Questionnaire.code == code, Questionnaire.active.is_(True))
    )


def ensure_default() -> Questionnaire:
    """Store version 1 of the default SIPAS questionnaire unless a version already exists."""
    existing = active()
    if existing is not None:
        return existing
    definition = default_definition()
    parsed = load_definition(definition)
    row = db.session.scalar(
        select(Questionnaire).where(
            Questionnaire.code == parsed.code, Questionnaire.version == parsed.version
        )
    )
    if row is None:
        row = Questionnaire(
            code=parsed.code,
            version=parsed.version,
            method_version=parsed.method_version,
            definition=definition,
            policy_enabled=parsed.policy_enabled,
        )
        db.session.add(row)
    row.active = True
    db.session.flush()
    return row
