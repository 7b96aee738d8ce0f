"""Questionnaire versions stored as data."""

from __future__ import annotations

from sqlalchemy import func, select

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


def list_versions(code: str = "sipas-service", after: int | None = None, limit: int = 50):
    """Stored versions of a questionnaire, newest first (keyset by version)."""
    from core.services.pagination import keyset

    return keyset(select(Questionnaire).where(Questionnaire.code == code), Questionnaire.version,
                  after, limit=limit, descending=True)


def get_version(questionnaire_id: int) -> Questionnaire:
    from werkzeug.exceptions import NotFound

    row = db.session.get(Questionnaire, questionnaire_id)
    if row is None:
        raise NotFound()
    return row


def set_policy(actor, enabled: bool, code: str = "sipas-service") -> Questionnaire:
    """Switch the optional policy module on or off by storing a new active version.

    The current version is never edited: responses keep the version they answered, so figures
    before and after the change stay comparable and attributable. Audited; admins only.
    """
    from sqlalchemy.exc import IntegrityError
    from werkzeug.exceptions import Conflict, Forbidden

    from core.database import begin_write
    from core.services.accounts import audit

    if actor.role != "admin":
        raise Forbidden()
    begin_write()
    try:
        current = active(code) or ensure_default()
        if current.policy_enabled == enabled:
            db.session.commit()
            return current
        latest = db.session.scalar(
            select(func.max(Questionnaire.version)).where(Questionnaire.code == code)
        ) or current.version
        definition = load_definition(current.definition).with_policy(enabled)
        definition["version"] = latest + 1
        parsed = load_definition(definition)
        current.active = False
        db.session.flush()
        row = Questionnaire(
            code=parsed.code,
            version=parsed.version,
            method_version=parsed.method_version,
            definition=definition,
            policy_enabled=parsed.policy_enabled,
            active=True,
        )
        db.session.add(row)
        db.session.flush()
        audit.record(
            "questionnaire.policy", user=actor, target_type="questionnaire", target_id=row.id,
            details={"code": code, "from_version": current.version, "to_version": row.version,
                     "policy_enabled": enabled},
        )
        db.session.commit()
        return row
    except IntegrityError:
        # Another administrator switched it at the same moment; their version stands.
        db.session.rollback()
        raise Conflict() from None
    except BaseException:
        db.session.rollback()
        raise
