"""The thank-you screen: the phone-survey link this kiosk signs for the rating just made, and its
QR code drawn locally."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select

from core import qr, tokens
from core.extensions import db
from core.models.kiosk_local import OutboxRating
from core.services.errors import ServiceError
from kiosk import identity
from kiosk.configuration import Settings, settings


@dataclass(frozen=True)
class Thanks:
    survey_url: str | None
    qr_svg: str | None


def survey_url(rating: OutboxRating, config: Settings,
               credentials: identity.Credentials | None) -> str | None:
    """The phone-survey link for a rating, signed by this kiosk (None when not enrolled)."""
    if credentials is None:
        return None
    payload = {
        "t": "k",
        "k": credentials.kiosk_id,
        "r": rating.uuid,
        "s": rating.seq,
        "u": config.unit_id,
        "c": config.counter_id,
        "o": rating.officer_code,
        "d": rating.dossier_code,
        "p": rating.procedure_code,
        "exp": int(time.time()) + config.survey_token_days * 86400,
    }
    base = config.public_url or credentials.server_url
    return f"{base}/s/{tokens.sign(payload, credentials.secret)}"


def qr_svg(data: str) -> str:
    """The QR code as inline SVG markup (core/qr.py; drawn locally, no outside service sees it)."""
    return qr.inline_svg(data)


def thanks(rating_uuid: str) -> Thanks:
    rating = db.session.scalar(select(OutboxRating).where(OutboxRating.uuid == rating_uuid))
    if rating is None:
        raise ServiceError("not_this_kiosk")
    url = survey_url(rating, settings(), identity.load())
    return Thanks(survey_url=url, qr_svg=qr_svg(url) if url else None)
