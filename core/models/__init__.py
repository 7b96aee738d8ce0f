"""All SQLAlchemy models, imported here so Alembic and the app see one metadata."""

from core.models.accounts import ROLES, ApiToken, AuditEntry, User
from core.models.kiosk_local import ArmedTransaction, KioskState, OfficerShift, OutboxRating
from core.models.kiosks import (
    KIOSK_STATUSES,
    MISUSE_REASONS,
    Kiosk,
    KioskRating,
    KioskRejection,
    SyncNonce,
)
from core.models.org import SCALES, UNIT_LEVELS, Counter, Officer, Procedure, ProcedureField, Unit
from core.models.rollups import (
    RESPONDENTS,
    TAP,
    RollupCount,
    RollupDimMonth,
    RollupHour,
    RollupUnitDay,
    RollupUnitMonth,
)
from core.models.survey import CHANNELS, Questionnaire, SurveyAnswer, SurveyDraft, SurveyResponse
from core.models.types import UTCDateTime, utcnow

__all__ = [
    "CHANNELS",
    "KIOSK_STATUSES",
    "MISUSE_REASONS",
    "RESPONDENTS",
    "ROLES",
    "SCALES",
    "TAP",
    "UNIT_LEVELS",
    "ApiToken",
    "ArmedTransaction",
    "AuditEntry",
    "Counter",
    "Kiosk",
    "KioskRating",
    "KioskRejection",
    "KioskState",
    "Officer",
    "OfficerShift",
    "OutboxRating",
    "Procedure",
    "ProcedureField",
    "Questionnaire",
    "RollupCount",
    "RollupDimMonth",
    "RollupHour",
    "RollupUnitDay",
    "RollupUnitMonth",
    "SurveyAnswer",
    "SurveyDraft",
    "SurveyResponse",
    "SyncNonce",
    "UTCDateTime",
    "Unit",
    "User",
    "utcnow",
]
