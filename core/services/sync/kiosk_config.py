"""The configuration an enrolled kiosk pulls (docs/DEVELOPING.md, "Contracts"), and its ETag."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import current_app
from sqlalchemy import select

from core.extensions import db
from core.models import Kiosk, Officer
from core.services.survey import questionnaires


def config_for(kiosk: Kiosk) -> dict[str, Any]:
    """The kiosk's configuration, as docs/DEVELOPING.md describes it ("Contracts")."""
    counter = kiosk.counter
    unit = kiosk.unit
    officers = db.session.scalars(
        select(Officer)
        .where(Officer.unit_id == kiosk.unit_id, Officer.active.is_(True),
               (Officer.counter_id == kiosk.counter_id) | Officer.counter_id.is_(None))
        .order_by(Officer.code)
    ).all()
    active = questionnaires.active()
    return {
        "kiosk": {"id": kiosk.public_id, "name": kiosk.name},
        "unit": {"id": unit.id, "code": unit.code, "name": unit.name},
        "counter": {"id": counter.id, "code": counter.code, "name": counter.name},
        "scale": counter.scale,
        "min_interval_s": counter.min_interval_s,
        "require_transaction": counter.require_transaction,
        "idle_timeout_s": counter.idle_timeout_s,
        "followup_timeout_s": counter.followup_timeout_s,
        "languages": ["vi", "en"],
        "questionnaire_version": active.version if active is not None else 1,
        "survey_token_days": current_app.config["SURVEY_TOKEN_DAYS"],
        "public_url": current_app.config["PUBLIC_URL"],
        "officers": [
            {"code": o.code, "name": o.full_name, "pin_hash": o.pin_hash,
             "photo_url": o.photo_url}
            for o in officers
        ],
    }


def config_etag(config: dict[str, Any]) -> str:
    """A strong ETag of the configuration: it changes exactly when the JSON does."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return '"' + hashlib.sha256(canonical.encode()).hexdigest()[:32] + '"'
