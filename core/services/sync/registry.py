"""Kiosk identities on the aggregator: register with a one-time code, enroll, revoke, re-enroll,
rotate keys, and find a kiosk (by public id, or within an administrator's scope).

Refusals are ``ServiceError``: enrolment answers the protocol's ``invalid_code`` and
``code_expired``; the administrator's operations ``unknown_counter``, ``bad_name``,
``inactive_counter``, ``already_revoked`` and ``not_active``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select, update
from werkzeug.exceptions import NotFound

from core.extensions import db
from core.models import Counter, Kiosk, Unit, User, utcnow
from core.services.accounts import audit
from core.services.errors import ServiceError
from core.services.org.scope import get_unit, visible_units
from core.services.sync.kiosk_config import config_for
from core.services.unit_of_work import write_unit

# Crockford's base32 without I, L, O, U: nothing to misread when typed from a screen.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10


@dataclass
class Registration:
    kiosk: Kiosk
    code: str  # shown once; only its hash is stored


@dataclass
class Enrollment:
    kiosk_id: str
    secret: str
    config: dict[str, Any] = field(default_factory=dict)


# --- Enrolment codes ----------------------------------------------------------------------------

def normalise_code(code: str) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def hash_code(code: str) -> str:
    # Codes carry 50 random bits, expire within hours and enrollment is rate limited, so a fast
    # hash is enough; it keeps a leaked database from revealing a code still waiting to be used.
    return hashlib.sha256(("sipas-enroll:" + normalise_code(code)).encode()).hexdigest()


def _new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return raw[:5] + "-" + raw[5:]


def _code_expiry():
    return utcnow() + timedelta(hours=current_app.config["ENROLLMENT_CODE_HOURS"])


def _audit(action: str, kiosk: Kiosk, user: User | None, **details: Any) -> None:
    audit.record(action, user=user, username=None if user else "cli",
                 target_type="kiosk", target_id=kiosk.public_id, unit_id=kiosk.unit_id,
                 details=details or None)


# --- Register, enroll, revoke, re-enroll, rotate ------------------------------------------------

def find_counter(unit_code: str, counter_code: str) -> Counter:
    """The counter with these codes (for the CLI), or ``unknown_counter``."""
    counter = db.session.scalar(
        select(Counter).join(Unit, Counter.unit_id == Unit.id)
        .where(Unit.code == unit_code, Counter.code == counter_code)
    )
    if counter is None:
        raise ServiceError("unknown_counter", status=404)
    return counter


@write_unit
def register(counter: Counter, name: str, *, user: User | None = None) -> Registration:
    """A new kiosk waiting for enrollment, and its one-time code (valid for a limited time)."""
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise ServiceError("bad_name", status=422)
    if not counter.active:
        raise ServiceError("inactive_counter", status=422)
    code = _new_code()
    kiosk = Kiosk(
        public_id=str(uuid.uuid4()),
        unit_id=counter.unit_id,
        counter_id=counter.id,
        name=name,
        status="pending",
        enrollment_code_hash=hash_code(code),
        enrollment_expires_at=_code_expiry(),
    )
    db.session.add(kiosk)
    db.session.flush()
    _audit("kiosk.register", kiosk, user, name=name, counter_id=counter.id)
    return Registration(kiosk, code)


@write_unit
def enroll(code: str, first_seq: int = 1) -> Enrollment:
    """Exchange a one-time code for the kiosk's id and secret.

    ``first_seq`` is the first sequence number the device will send under this identity: a
    device enrolled again keeps numbering, and the numbers below went to its previous identity,
    so they are not gaps of this one.

    One UPDATE ... WHERE code hash matches, still pending and unexpired: two devices racing with
    the same code cannot both win, because only one UPDATE finds the row still pending. The
    caller commits before it answers, so a kiosk never holds a secret the server forgot.
    """
    digest = hash_code(code)
    now = utcnow()
    secret = secrets.token_urlsafe(32)
    won = db.session.execute(
        update(Kiosk)
        .where(Kiosk.enrollment_code_hash == digest, Kiosk.status == "pending",
               Kiosk.enrollment_expires_at > now)
        .values(status="active", secret=secret, enrollment_code_hash=None, enrolled_at=now,
                first_seq=first_seq, contiguous_seq=first_seq - 1, max_seq=first_seq - 1)
        .returning(Kiosk.id)
    ).scalar()
    if won is None:
        expired = db.session.scalar(
            select(Kiosk.id).where(Kiosk.enrollment_code_hash == digest)
        )
        raise ServiceError("code_expired" if expired is not None else "invalid_code", status=400)
    kiosk = db.session.get(Kiosk, won)
    assert kiosk is not None
    db.session.refresh(kiosk)
    audit.record("kiosk.enroll", username="kiosk", target_type="kiosk",
                 target_id=kiosk.public_id, unit_id=kiosk.unit_id)
    return Enrollment(kiosk.public_id, secret, config_for(kiosk))


@write_unit
def revoke(kiosk: Kiosk, *, user: User | None = None) -> None:
    """Refuse every further request from this kiosk (and tokens signed with its keys)."""
    if kiosk.status == "revoked":
        raise ServiceError("already_revoked", status=409)
    kiosk.status = "revoked"
    kiosk.revoked_at = utcnow()
    kiosk.enrollment_code_hash = None
    kiosk.forget_previous_key()
    _audit("kiosk.revoke", kiosk, user)


@write_unit
def reenroll(kiosk: Kiosk, *, user: User | None = None) -> Registration:
    """Cut a leaked key off at once and issue a new one-time code for the same kiosk record.

    Every request signed with the current or previous key is refused from this commit on (the
    kiosk holds no key until it enrolls again). The technician enrolls the device again with the
    code (``kiosk enroll --force`` or the setup page's "replace" box); the kiosk keeps its id,
    unit, counter and sequence numbers, so its queued ratings go out under the new enrollment.
    A revoked kiosk stays revoked (register a new one).
    """
    if kiosk.status == "revoked":
        raise ServiceError("already_revoked", status=409)
    code = _new_code()
    kiosk.status = "pending"
    kiosk.secret = None
    kiosk.forget_previous_key()
    kiosk.enrollment_code_hash = hash_code(code)
    kiosk.enrollment_expires_at = _code_expiry()
    _audit("kiosk.reenroll", kiosk, user)
    return Registration(kiosk, code)


@write_unit
def rotate(kiosk: Kiosk, *, user: User | None = None) -> None:
    """Give the kiosk a new key, for hygiene (not for a leaked key: see ``reenroll``).

    The kiosk learns the new key from its next configuration pull, signed with the old key.
    Until then the old key may only pull the configuration (it can push nothing), and the first
    request signed with the new key retires the old one at once; otherwise it expires after
    KEY_ROTATION_GRACE_HOURS (the rule: ``Kiosk.start_key_rotation``). QR tokens signed before
    stay valid as long as the old key is.
    """
    if kiosk.status != "active" or kiosk.secret is None:
        raise ServiceError("not_active", status=409)
    kiosk.start_key_rotation(secrets.token_urlsafe(32),
                             timedelta(hours=current_app.config["KEY_ROTATION_GRACE_HOURS"]))
    _audit("kiosk.rotate", kiosk, user)


# --- Finding a kiosk ----------------------------------------------------------------------------

_PUBLIC_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def by_public_id(public_id: str) -> Kiosk | None:
    """The kiosk with this public id; anything that is not a UUID (a NUL byte, which PostgreSQL
    cannot even compare, or a 5,000-character path) is simply no kiosk."""
    if not isinstance(public_id, str) or not _PUBLIC_ID.fullmatch(public_id):
        return None
    return db.session.scalar(select(Kiosk).where(Kiosk.public_id == public_id))


def counters_in_scope(user: User) -> list[tuple[int, str]]:
    """Active counters of the units the user may see, as (id, "Unit – Counter") choices."""
    rows = db.session.execute(
        select(Counter.id, Unit.name, Counter.code, Counter.name)
        .join(Unit, Counter.unit_id == Unit.id)
        .where(Counter.unit_id.in_(visible_units(user)), Counter.active.is_(True))
        .order_by(Unit.name, Counter.code)
    ).all()
    return [(cid, f"{unit} – {code} {name}") for cid, unit, code, name in rows]


def counter_for(user: User, counter_id: int) -> Counter:
    """A counter in the user's scope, or 404."""
    counter = db.session.get(Counter, counter_id)
    if counter is None:
        raise NotFound()
    get_unit(user, counter.unit_id)
    return counter


def kiosk_for(user: User, public_id: str) -> Kiosk:
    """A kiosk in the user's scope, or 404 (another unit's kiosk looks like a missing one)."""
    kiosk = by_public_id(public_id)
    if kiosk is None or kiosk.synthetic:  # demo history's kiosks are no device to manage
        raise NotFound()
    get_unit(user, kiosk.unit_id)
    return kiosk
