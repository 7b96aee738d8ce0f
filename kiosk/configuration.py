"""What the kiosk was configured with: ``KioskState.config`` (pulled from the aggregator) read with
the documented defaults, its officers, and the follow-up reasons of the active questionnaire."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import select

from core.extensions import db
from core.models.kiosk_local import KioskState
from core.models.survey import Questionnaire
from core.questionnaire_definition import (
    SERVICE_QUESTIONNAIRE,
    FollowupReason,
    default_questionnaire,
    load_definition,
)


@dataclass(frozen=True)
class Officer:
    code: str
    name: str
    pin_hash: str | None
    photo_url: str | None


@dataclass(frozen=True)
class Settings:
    """``KioskState.config`` with the documented defaults for missing or malformed keys."""

    raw: dict[str, Any]
    scale: int = 3
    min_interval_s: int = 5
    require_transaction: bool = False
    idle_timeout_s: int = 15
    followup_timeout_s: int = 20
    survey_token_days: int = 7
    public_url: str | None = None
    officers: tuple[Officer, ...] = ()
    kiosk_id: str | None = None
    unit_id: int | None = None
    counter_id: int | None = None
    counter_name: str | None = None
    languages: tuple[str, ...] = ("vi", "en")

    def officer(self, code: str) -> Officer | None:
        for officer in self.officers:
            if officer.code == code:
                return officer
        return None


def _whole(value: Any, default: int, minimum: int, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        return default
    return value


def _officers(value: Any) -> tuple[Officer, ...]:
    found = []
    for entry in value if isinstance(value, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("code"), str):
            continue
        photo = entry.get("photo_url")
        found.append(Officer(
            code=entry["code"][:40],
            name=str(entry.get("name") or entry["code"])[:200],
            pin_hash=entry.get("pin_hash") if isinstance(entry.get("pin_hash"), str) else None,
            # Only local images pass the CSP (img-src 'self' data:); others are left out.
            photo_url=photo if isinstance(photo, str) and photo.startswith(("/", "data:image/"))
            else None,
        ))
    return tuple(found)


def _nested(config: dict[str, Any], key: str) -> dict[str, Any]:
    value = config.get(key)
    return value if isinstance(value, dict) else {}


def _id(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def settings(current: KioskState | None = None) -> Settings:
    current = current if current is not None else state()
    config = current.config if current is not None and isinstance(current.config, dict) else {}
    counter = _nested(config, "counter")
    public_url = config.get("public_url")
    languages = tuple(c for c in config.get("languages") or () if c in ("vi", "en")) or (
        "vi", "en")
    return Settings(
        raw=config,
        scale=config.get("scale") if config.get("scale") in (3, 5) else 3,
        min_interval_s=_whole(config.get("min_interval_s"), 5, 0, 3600),
        require_transaction=config.get("require_transaction") is True,
        idle_timeout_s=_whole(config.get("idle_timeout_s"), 15, 1, 3600),
        followup_timeout_s=_whole(config.get("followup_timeout_s"), 20, 1, 3600),
        survey_token_days=_whole(config.get("survey_token_days"),
                                 current_app.config.get("SURVEY_TOKEN_DAYS", 7), 1, 366),
        public_url=public_url.rstrip("/") if isinstance(public_url, str)
        and public_url.startswith(("http://", "https://")) else None,
        officers=_officers(config.get("officers")),
        kiosk_id=_nested(config, "kiosk").get("id") or (current.kiosk_public_id if current
                                                        else None),
        unit_id=_id(_nested(config, "unit").get("id")),
        counter_id=_id(counter.get("id")),
        counter_name=counter.get("name") if isinstance(counter.get("name"), str) else None,
        languages=languages,
    )


def state() -> KioskState | None:
    return db.session.get(KioskState, 1)


def followup_reasons() -> tuple[FollowupReason, ...]:
    """The follow-up chips of the active questionnaire (the default one until sync stores one)."""
    # The kiosk's own database (the survey services are the aggregator's).
    row = db.session.scalar(select(Questionnaire).where(
        Questionnaire.code == SERVICE_QUESTIONNAIRE, Questionnaire.active.is_(True)))
    if row is not None:
        return load_definition(row.definition).followup_reasons
    return _default_reasons()


_DEFAULT_REASONS: tuple[FollowupReason, ...] | None = None


def _default_reasons() -> tuple[FollowupReason, ...]:
    global _DEFAULT_REASONS
    if _DEFAULT_REASONS is None:
        _DEFAULT_REASONS = default_questionnaire().followup_reasons
    return _DEFAULT_REASONS
