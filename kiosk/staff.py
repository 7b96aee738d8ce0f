"""The staff side of the counter: officers' shifts (PIN sign-in), the transaction armed for the
next tap (from the staff screen or the counter's software), and who opened what (audit).

Services here flush (``@write_unit``) and never commit: the request commits once after the view
(``core.database.init_app``).
"""

from __future__ import annotations

import hmac
from typing import Any

from flask import current_app
from sqlalchemy import select, update

from core.codes import CODE_CHARACTERS, DOSSIER_CODE_MAX
from core.extensions import db
from core.models.kiosk_local import ArmedTransaction, OfficerShift
from core.models.types import utcnow
from core.passwords import verify_pin
from core.services.accounts import audit
from core.services.errors import ServiceError
from core.services.unit_of_work import write_unit
from kiosk.configuration import Officer, settings

# Dossier and procedure codes: what the columns hold, printable, no spaces or control characters
# (core/codes.py: with DOSSIER_MAX this is exactly the dossier-code rule).
DOSSIER_MAX, PROCEDURE_MAX = DOSSIER_CODE_MAX, 60


def on_duty() -> OfficerShift | None:
    """The officer signed in at this kiosk now (the latest open shift)."""
    return db.session.scalar(
        select(OfficerShift).where(OfficerShift.signed_out_at.is_(None))
        .order_by(OfficerShift.signed_in_at.desc(), OfficerShift.id.desc()).limit(1)
    )


def clean_code(raw: str | None, maximum: int, required: bool) -> str | None:
    """A dossier or procedure code, trimmed; ServiceError 400 when too long or malformed."""
    value = (raw or "").strip()
    if not value:
        if required:
            raise ServiceError("dossier_code_required")
        return None
    if len(value) > maximum:
        raise ServiceError("code_too_long", n=maximum)
    if not CODE_CHARACTERS.fullmatch(value):
        raise ServiceError("code_malformed")
    return value


def sign_in(officer_code: str, pin: str) -> Officer | None:
    """Verify the officer's PIN; on success the officer is on duty (any other shift ends)."""
    officer = settings().officer(officer_code)
    if officer is None or not verify_pin(officer.pin_hash, pin):
        return None  # nothing written: the view audits the failure
    _start_shift(officer)
    return officer


@write_unit
def _start_shift(officer: Officer) -> None:
    now = utcnow()
    shift = on_duty()
    if shift is None or shift.officer_code != officer.code:
        for other in db.session.scalars(
                select(OfficerShift).where(OfficerShift.signed_out_at.is_(None))).all():
            other.signed_out_at = now
        db.session.add(OfficerShift(officer_code=officer.code, officer_name=officer.name,
                                    signed_in_at=now))
    audit.record("kiosk.officer_sign_in", username=officer.code, target_type="officer",
                 target_id=officer.code)


@write_unit
def sign_out(officer_code: str) -> bool:
    """End the officer's open shift; False when they were not on duty."""
    result = db.session.execute(
        update(OfficerShift)
        .where(OfficerShift.officer_code == officer_code, OfficerShift.signed_out_at.is_(None))
        .values(signed_out_at=utcnow())
    )
    audit.record("kiosk.officer_sign_out", username=officer_code, target_type="officer",
                 target_id=officer_code)
    return bool(result.rowcount)  # type: ignore[attr-defined]


def arm(raw_dossier: str | None, raw_procedure: str | None) -> ArmedTransaction:
    """Arm the kiosk for one transaction; the next tap carries it. Replaces an unused one."""
    dossier = clean_code(raw_dossier, DOSSIER_MAX, required=True)
    procedure = clean_code(raw_procedure, PROCEDURE_MAX, required=False)
    return _arm(dossier, procedure)


@write_unit
def _arm(dossier: str | None, procedure: str | None) -> ArmedTransaction:
    now = utcnow()
    # A transaction armed but never rated is superseded: used, with no rating.
    db.session.execute(
        update(ArmedTransaction).where(ArmedTransaction.used_at.is_(None)).values(used_at=now)
    )
    armed = ArmedTransaction(dossier_code=dossier, procedure_code=procedure, armed_at=now)
    db.session.add(armed)
    return armed


def armed_now() -> ArmedTransaction | None:
    """The transaction the next tap will carry, if one is armed."""
    return db.session.scalar(
        select(ArmedTransaction).where(ArmedTransaction.used_at.is_(None))
        .order_by(ArmedTransaction.armed_at.desc(), ArmedTransaction.id.desc()).limit(1)
    )


# --- access: PINs and keys ---------------------------------------------------------------------


@write_unit
def record_access(action: str, who: str | None = None, **details: Any) -> None:
    """Audit a PIN failure or a technician opening the status page (kept with a refusal too:
    the view returns its 4xx page, so the request commit keeps this entry)."""
    audit.record(action, username=(who or "")[:80] or None, target_type="kiosk",
                 details=details or None)


def _setting_matches(setting: str, given: str | None) -> bool:
    """Constant-time comparison with a secret setting; False when the setting is not set."""
    expected = current_app.config.get(setting)
    if not expected or not given:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def local_key_matches(given: str | None) -> bool:
    """The counter software's key (``SIPAS_KIOSK_LOCAL_API_KEY``)."""
    return _setting_matches("KIOSK_LOCAL_API_KEY", given)


def tech_pin_matches(given: str | None) -> bool:
    """The technician PIN (``SIPAS_KIOSK_TECH_PIN``) of the status and setup pages."""
    return _setting_matches("KIOSK_TECH_PIN", given)
