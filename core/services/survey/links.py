"""Survey links the aggregator signs: QR posters per counter, and dossier links.

Kiosks sign their own thank-you tokens (kiosk/thanks.py); the survey verifies all three kinds.
Payload keys: ``t`` kind ("k" kiosk, "p" poster, "d" dossier), ``a``/``k`` issuer, ``u`` unit id,
``c`` counter id, ``p`` procedure id, ``d`` dossier code, ``n`` nonce, ``exp`` expiry (unix time).
"""

from __future__ import annotations

import secrets
import time

from flask import current_app

from core.codes import is_dossier_code
from core.models import Counter
from core.services.errors import ServiceError
from core.tokens import aggregator_key, sign

POSTER_PURPOSE = "survey-poster"
DOSSIER_PURPOSE = "survey-dossier"
POSTER_DAYS = 3 * 365


def poster_token(counter: Counter, days: int = POSTER_DAYS) -> str:
    """The long-lived token printed on a counter's QR poster."""
    payload = {"t": "p", "a": 1, "u": counter.unit_id, "c": counter.id,
               "exp": int(time.time()) + days * 86400}
    return sign(payload, aggregator_key(current_app.config["SECRET_KEY"], POSTER_PURPOSE))


def dossier_token(
    unit_id: int,
    dossier_code: str,
    counter_id: int | None = None,
    procedure_id: int | None = None,
    days: int | None = None,
) -> str:
    """A single-use token for one dossier (printed on a receipt or sent by SMS).

    ServiceError "invalid_dossier_code" for a code that breaks the rule (core/codes.py).
    """
    if not is_dossier_code(dossier_code):
        raise ServiceError("invalid_dossier_code")
    days = days or current_app.config["SURVEY_TOKEN_DAYS"]
    payload = {"t": "d", "a": 1, "u": unit_id, "c": counter_id, "p": procedure_id,
               "d": dossier_code, "n": secrets.token_hex(4), "exp": int(time.time()) + days * 86400}
    return sign(payload, aggregator_key(current_app.config["SECRET_KEY"], DOSSIER_PURPOSE))


def survey_url(token: str) -> str:
    """The public address a QR code points at."""
    return f"{current_app.config['PUBLIC_URL']}/s/{token}"
