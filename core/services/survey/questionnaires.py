"""Questionnaire versions stored as data: the active one, the policy switch, parsed definitions.

A stored version is never edited (a change stores the next version), so its parsed definition
is cached here, once for the survey pages and the reporting figures alike.
"""

from __future__ import annotations

from sqlalchemy import func, select
from werkzeug.exceptions import Forbidden, NotFound

from core.extensions import db
from core.models import Questionnaire, User
from core.questionnaire_definition import (
    SERVICE_QUESTIONNAIRE,
    QuestionnaireDefinition,
    default_definition,
    load_definition,
)
from core.services.accounts import audit
from core.services.pagination import keyset
from core.services.unit_of_work import write_unit

_PARSED: dict[tuple, QuestionnaireDefinition] = {}
_PARSED_MAX = 64


def definition(row: Questionnaire) -> QuestionnaireDefinition:
    """The parsed definition of a stored version, parsed once per process.

    The key holds the creation time besides the id, so two databases served by one process
    (tests, benchmarks) never share an entry for the same id.
    """
    key = (row.id, row.code, row.version, row.created_at)
    parsed = _PARSED.get(key)
    if parsed is None:
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        parsed = load_definition(row.definition)
        _PARSED[key] = parsed
    return parsed


def active(code: str = SERVICE_QUESTIONNAIRE) -> Questionnaire | None:
    return db.session.scalar(
        select(Questionnaire).where(Questionnaire.code == code, Questionnaire.active.is_(True))
    )


def active_definition() -> QuestionnaireDefinition:
    """The parsed active questionnaire (the default one is stored first when there is none)."""
    return definition(active() or ensure_default())


def ensure_default() -> Questionnaire:
    """Store version 1 of the default SIPAS questionnaire unless a version is active.

    Flushes within the caller's unit (a request commits after its view; a command itself).
    """
    existing = active()
    if existing is not None:
        return existing
    raw = default_definition()
    parsed = load_definition(raw)
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
            definition=raw,
            policy_enabled=parsed.policy_enabled,
        )
        db.session.add(row)
    row.active = True
    db.session.flush()
    return row


def list_versions(code: str = SERVICE_QUESTIONNAIRE, after: int | None = None, limit: int = 50):
    """Stored versions of a questionnaire, newest first (keyset by version)."""
    return keyset(select(Questionnaire).where(Questionnaire.code == code), Questionnaire.version,
                  after, limit=limit, descending=True)


def get_version(questionnaire_id: int) -> Questionnaire:
    row = db.session.get(Questionnaire, questionnaire_id)
    if row is None:
        raise NotFound()
    return row


@write_unit
def set_policy(actor: User, enabled: bool, code: str = SERVICE_QUESTIONNAIRE) -> Questionnaire:
    """Switch the optional policy module on or off by storing a new active version.

    The current version is never edited: responses keep the version they answered, so figures
    before and after the change stay comparable and attributable. Audited; admins only. Two
    administrators switching at the same moment: the database keeps one version, the other gets
    a 409 (``write_unit``).
    """
    if actor.role != "admin":
        raise Forbidden()
    current = active(code) or ensure_default()
    if current.policy_enabled == enabled:
        return current
    latest = db.session.scalar(
        select(func.max(Questionnaire.version)).where(Questionnaire.code == code)
    ) or current.version
    raw = definition(current).with_policy(enabled)
    raw["version"] = latest + 1
    parsed = load_definition(raw)
    current.active = False
    db.session.flush()
    row = Questionnaire(
        code=parsed.code,
        version=parsed.version,
        method_version=parsed.method_version,
        definition=raw,
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
    return row
