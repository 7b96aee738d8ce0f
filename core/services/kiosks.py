"""Kiosk identity on the aggregator: register, enroll with a one-time code, revoke, rotate keys,
and authenticate each signed sync request.

Errors a kiosk can act on are raised as ``SyncError(code)``; api/sync.py turns the code into
a JSON error with a message in the reader's language.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from core import protocol
from core.database import begin_write
from core.extensions import db
from core.models import (
    Counter,
    Kiosk,
    KioskRejection,
    Officer,
    SyncNonce,
    Unit,
    User,
    utcnow,
)
from core.services import questionnaires
from core.services.accounts import audit

# Crockford's base32 without I, L, O, U: nothing to misread when typed from a screen.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10
CLOCK_WINDOW_S = 300
SKEW_FLAG_S = 300
NONCE_KEEP_S = 2 * CLOCK_WINDOW_S + 60


class SyncError(Exception):
    """A refusal a kiosk (or an operator) can act on: ``code`` is machine-readable."""

    def __init__(self, code: str, status: int, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.status = status
        self.extra = extra


class KioskAdminError(ValueError):
    """An administrator's request that cannot be done (unknown counter, wrong state, ...)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Registration:
    kiosk: Kiosk
    code: str  # shown once; only its hash is stored


@dataclass
class Enrollment:
    kiosk_id: str
    secret: str
    config: dict[str, Any] = field(default_factory=dict)


# --- Registration and enrollment ----------------------------------------------------------------

def normalise_code(code: str) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def hash_code(code: str) -> str:
    # Codes carry 50 random bits, expire within hours and enrollment is rate limited, so a fast
    # hash is enough; it keeps a leaked database from revealing a code still waiting to be used.
    return hashlib.sha256(("sipas-enroll:" + normalise_code(code)).encode()).hexdigest()


def _new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return raw[:5] + "-" + raw[5:]


def find_counter(unit_code: str, counter_code: str) -> Counter:
    counter = db.session.scalar(
        select(Counter).join(Unit, Counter.unit_id == Unit.id)
        .where(Unit.code == unit_code, Counter.code == counter_code)
    )
    if counter is None:
        raise KioskAdminError("unknown_counter")
    return counter


def register(counter: Counter, name: str, *, user: User | None = None) -> Registration:
    """A new kiosk waiting for enrollment, and its one-time code (valid for a limited time)."""
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise KioskAdminError("bad_name")
    if not counter.active:
        raise KioskAdminError("inactive_counter")
    begin_write()
    code = _new_code()
    hours = current_app.config["ENROLLMENT_CODE_HOURS"]
    kiosk = Kiosk(
        public_id=str(uuid.uuid4()),
        unit_id=counter.unit_id,
        counter_id=counter.id,
        name=name,
        status="pending",
        enrollment_code_hash=hash_code(code),
        enrollment_expires_at=utcnow() + timedelta(hours=hours),
    )
    db.session.add(kiosk)
    db.session.flush()
    audit.record("kiosk.register", user=user, username=None if user else "cli",
                 target_type="kiosk", target_id=kiosk.public_id, unit_id=kiosk.unit_id,
                 details={"name": name, "counter_id": counter.id})
    db.session.commit()
    return Registration(kiosk, code)


def enroll(code: str, first_seq: int = 1) -> Enrollment:
    """Exchange a one-time code for the kiosk's id and secret.

    ``first_seq`` is the first sequence number the device will send under this identity: a
    device enrolled again keeps numbering, and the numbers below went to its previous identity,
    so they are not gaps of this one.

    One UPDATE ... WHERE code hash matches, still pending and unexpired: two devices racing with
    the same code cannot both win, because only one UPDATE finds the row still pending.
    """
    digest = hash_code(code)
    now = utcnow()
    secret = secrets.token_urlsafe(32)
    begin_write()
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
        db.session.rollback()
        raise SyncError("code_expired" if expired is not None else "invalid_code", 400)
    kiosk = db.session.get(Kiosk, won)
    assert kiosk is not None
    db.session.refresh(kiosk)
    audit.record("kiosk.enroll", username="kiosk", target_type="kiosk",
                 target_id=kiosk.public_id, unit_id=kiosk.unit_id)
    db.session.commit()
    return Enrollment(kiosk.public_id, secret, config_for(kiosk))


def revoke(kiosk: Kiosk, *, user: User | None = None) -> None:
    """Refuse every further request from this kiosk (and tokens signed with its keys)."""
    if kiosk.status == "revoked":
        raise KioskAdminError("already_revoked")
    begin_write()
    kiosk.status = "revoked"
    kiosk.revoked_at = utcnow()
    kiosk.enrollment_code_hash = None
    kiosk.forget_previous_key()
    audit.record("kiosk.revoke", user=user, username=None if user else "cli",
                 target_type="kiosk", target_id=kiosk.public_id, unit_id=kiosk.unit_id)
    db.session.commit()


def reenroll(kiosk: Kiosk, *, user: User | None = None) -> Registration:
    """Cut a leaked key off at once and issue a new one-time code for the same kiosk record.

    Every request signed with the current or previous key is refused from this commit on (the
    kiosk holds no key until it enrolls again). The technician enrolls the device again with the
    code (``kiosk enroll --force`` or the setup page's "replace" box); the kiosk keeps its id,
    unit, counter and sequence numbers, so its queued ratings go out under the new enrollment.
    A revoked kiosk stays revoked (register a new one).
    """
    if kiosk.status == "revoked":
        raise KioskAdminError("already_revoked")
    begin_write()
    code = _new_code()
    kiosk.status = "pending"
    kiosk.secret = None
    kiosk.forget_previous_key()
    kiosk.enrollment_code_hash = hash_code(code)
    kiosk.enrollment_expires_at = utcnow() + timedelta(
        hours=current_app.config["ENROLLMENT_CODE_HOURS"])
    audit.record("kiosk.reenroll", user=user, username=None if user else "cli",
                 target_type="kiosk", target_id=kiosk.public_id, unit_id=kiosk.unit_id)
    db.session.commit()
    return Registration(kiosk, code)


def rotate(kiosk: Kiosk, *, user: User | None = None) -> None:
    """Give the kiosk a new key, for hygiene (not for a leaked key: see ``reenroll``).

    The kiosk learns the new key from its next configuration pull, signed with the old key.
    Until then the old key may only pull the configuration (it can push nothing), and the first
    request signed with the new key retires the old one at once; otherwise it expires after
    KEY_ROTATION_GRACE_HOURS. QR tokens signed before stay valid as long as the old key is.
    """
    if kiosk.status != "active" or kiosk.secret is None:
        raise KioskAdminError("not_active")
    begin_write()
    kiosk.start_key_rotation(secrets.token_urlsafe(32),
                             timedelta(hours=current_app.config["KEY_ROTATION_GRACE_HOURS"]))
    audit.record("kiosk.rotate", user=user, username=None if user else "cli",
                 target_type="kiosk", target_id=kiosk.public_id, unit_id=kiosk.unit_id)
    db.session.commit()


_PUBLIC_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def by_public_id(public_id: str) -> Kiosk | None:
    """The kiosk with this public id; anything that is not a UUID (a NUL byte, which PostgreSQL
    cannot even compare, or a 5,000-character path) is simply no kiosk."""
    if not isinstance(public_id, str) or not _PUBLIC_ID.fullmatch(public_id):
        return None
    return db.session.scalar(select(Kiosk).where(Kiosk.public_id == public_id))


# --- Configuration pulled by the kiosk ----------------------------------------------------------

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
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return '"' + hashlib.sha256(canonical.encode()).hexdigest()[:32] + '"'


# --- Authenticating signed requests -------------------------------------------------------------

@dataclass
class Authenticated:
    kiosk: Kiosk
    used_previous_key: bool  # the kiosk has not picked up its rotated key yet


def _matches(secret: str | None, method: str, path: str, timestamp: str, nonce: str,
             body: bytes, given: str) -> bool:
    if not secret:
        return False
    expected = protocol.signature(secret, method, path, timestamp, nonce, body)
    return hmac.compare_digest(expected, given)


def authenticate(headers: Any, method: str, path: str, body: bytes, now: float) -> Authenticated:
    """Check a request's signature, kiosk status, timestamp window and nonce, in that order.

    Each refusal has its own code: ``unsigned``, ``unknown_kiosk``, ``bad_signature``,
    ``revoked``, ``clock_skew`` (with the server's time) and ``replay``.
    """
    public_id = headers.get(protocol.HEADER_KIOSK, "")
    timestamp = headers.get(protocol.HEADER_TIMESTAMP, "")
    nonce = headers.get(protocol.HEADER_NONCE, "")
    given = headers.get(protocol.HEADER_SIGNATURE, "")
    if not (public_id and timestamp and nonce and given):
        raise SyncError("unsigned", 401)
    if not timestamp.isdigit() or len(timestamp) > 12 or len(nonce) > 64 or len(given) > 128:
        raise SyncError("bad_signature", 401)
    kiosk = by_public_id(public_id)
    if kiosk is None:
        raise SyncError("unknown_kiosk", 401)
    used_previous = False
    if not _matches(kiosk.secret, method, path, timestamp, nonce, body, given):
        at = datetime.fromtimestamp(now, UTC)
        if kiosk.previous_key_valid(at) and _matches(
            kiosk.previous_secret, method, path, timestamp, nonce, body, given
        ):
            used_previous = True
        else:
            raise SyncError("bad_signature", 401)
    if kiosk.status == "revoked":
        raise SyncError("revoked", 403)
    if kiosk.status != "active":
        raise SyncError("not_enrolled", 403)
    if abs(int(timestamp) - now) > CLOCK_WINDOW_S:
        raise SyncError("clock_skew", 401, server_time=now)
    if used_previous and (method, path) != ("GET", protocol.CONFIG_PATH):
        # A rotated key may fetch the new one and nothing else: a copy of the old key pushes
        # nothing, and the real kiosk pulls its configuration first in every cycle.
        raise SyncError("key_rotated", 401)
    if not _remember_nonce(kiosk.id, nonce):
        raise SyncError("replay", 409)
    if not used_previous and kiosk.previous_secret is not None:
        _retire_previous_key(kiosk)
    return Authenticated(kiosk, used_previous)


def _retire_previous_key(kiosk: Kiosk) -> None:
    """The kiosk signed with its new key, so it has it: the old key is refused from now on."""
    begin_write()
    db.session.execute(update(Kiosk).where(Kiosk.id == kiosk.id)
                       .values(previous_secret=None, previous_secret_until=None))
    audit.record("kiosk.rotate_done", username="kiosk", target_type="kiosk",
                 target_id=kiosk.public_id, unit_id=kiosk.unit_id)
    db.session.commit()
    db.session.refresh(kiosk)


def _remember_nonce(kiosk_id: int, nonce: str) -> bool:
    """True the first time a nonce is seen (atomically: SET NX in Redis, else a unique key)."""
    redis_url = current_app.config.get("REDIS_URL")
    if redis_url:
        client = current_app.extensions.get("sipas_nonce_redis")
        if client is None:
            import redis

            client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
            current_app.extensions["sipas_nonce_redis"] = client
        return bool(client.set(f"nonce:{kiosk_id}:{nonce}", 1, nx=True, ex=NONCE_KEEP_S))
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    begin_write()
    if dialect == "postgresql":
        timeout = int(current_app.config["SYNC_LOCK_TIMEOUT_MS"])
        db.session.execute(text(f"SET LOCAL lock_timeout = {timeout}"))
    now = utcnow()
    stored = db.session.execute(
        insert(SyncNonce).values(kiosk_id=kiosk_id, nonce=nonce, seen_at=now)
        .on_conflict_do_nothing().returning(SyncNonce.id)
    ).scalar()
    if stored is not None and secrets.randbelow(50) == 0:
        # Now and then forget nonces older than the window: a replay of them fails the clock check.
        db.session.execute(
            delete(SyncNonce).where(SyncNonce.kiosk_id == kiosk_id,
                                    SyncNonce.seen_at < now - timedelta(seconds=NONCE_KEEP_S))
        )
    db.session.commit()
    return stored is not None


# --- What administrators see (scoped by unit) ---------------------------------------------------

PAGE_SIZE = 50


def counters_in_scope(user: User) -> list[tuple[int, str]]:
    """Active counters of the units the user may see, as (id, "Unit – Counter") choices."""
    from core.services.org.scope import visible_units

    rows = db.session.execute(
        select(Counter.id, Unit.name, Counter.code, Counter.name)
        .join(Unit, Counter.unit_id == Unit.id)
        .where(Counter.unit_id.in_(visible_units(user)), Counter.active.is_(True))
        .order_by(Unit.name, Counter.code)
    ).all()
    return [(cid, f"{unit} – {code} {name}") for cid, unit, code, name in rows]


def counter_for(user: User, counter_id: int) -> Counter:
    """A counter in the user's scope, or 404."""
    from werkzeug.exceptions import NotFound

    from core.services.org.scope import get_unit

    counter = db.session.get(Counter, counter_id)
    if counter is None:
        raise NotFound()
    get_unit(user, counter.unit_id)
    return counter


def kiosk_for(user: User, public_id: str) -> Kiosk:
    """A kiosk in the user's scope, or 404 (another unit's kiosk looks like a missing one)."""
    from werkzeug.exceptions import NotFound

    from core.services.org.scope import get_unit

    kiosk = by_public_id(public_id)
    if kiosk is None or kiosk.synthetic:  # demo history's kiosks are no device to manage
        raise NotFound()
    get_unit(user, kiosk.unit_id)
    return kiosk


@dataclass
class FleetRow:
    kiosk: Kiosk
    unit_name: str
    counter_name: str
    missing: list[tuple[int, int]]
    # Refused ratings by reason: (code, words in the reader's language, count).
    rejected: list[tuple[str, str, int]] = field(default_factory=list)


@dataclass
class FleetPage:
    rows: list[FleetRow]
    next_after: int | None


def rejections_by_reason(kiosk_ids: list[int]) -> dict[int, list[tuple[str, str, int]]]:
    """Each kiosk's refused ratings by reason, most frequent first: (code, words, count)."""
    from core.services.ingest import reason_words

    refused: dict[int, list[tuple[str, str, int]]] = {}
    if not kiosk_ids:
        return refused
    for kiosk_id, reason, count in db.session.execute(
        select(KioskRejection.kiosk_id, KioskRejection.reason, func.count())
        .where(KioskRejection.kiosk_id.in_(kiosk_ids))
        .group_by(KioskRejection.kiosk_id, KioskRejection.reason)
        .order_by(KioskRejection.kiosk_id, func.count().desc(), KioskRejection.reason)
    ):
        refused.setdefault(kiosk_id, []).append((reason, reason_words(reason), int(count)))
    return refused


# What the fleet page can be narrowed to: kiosks with ratings flagged or refused.
FLEET_FILTERS = ("pre_enrollment", "clock_suspect", "rejected")


def fleet(user: User, after: int | None = None, only: str | None = None) -> FleetPage:
    """One page of the kiosks in scope, by id (keyset pagination: no OFFSET scans).

    ``only``: one of FLEET_FILTERS, or None for every kiosk.
    """
    from core.services.ingest import missing_ranges
    from core.services.org.scope import visible_units

    query = (
        select(Kiosk, Unit.name, Counter.name)
        .join(Unit, Kiosk.unit_id == Unit.id).join(Counter, Kiosk.counter_id == Counter.id)
        .where(Kiosk.unit_id.in_(visible_units(user)), Kiosk.synthetic.is_(False))
        .order_by(Kiosk.id).limit(PAGE_SIZE + 1)
    )
    if after is not None:
        query = query.where(Kiosk.id > after)
    if only == "pre_enrollment":
        query = query.where(Kiosk.pre_enrollment_count > 0)
    elif only == "clock_suspect":
        query = query.where(Kiosk.clock_suspect_count > 0)
    elif only == "rejected":
        query = query.where(
            select(KioskRejection.id).where(KioskRejection.kiosk_id == Kiosk.id).exists())
    found = db.session.execute(query).all()
    page = found[:PAGE_SIZE]
    refused = rejections_by_reason([k.id for k, _u, _c in page])
    rows = [FleetRow(k, u, c, missing_ranges(k, limit=5), refused.get(k.id, []))
            for k, u, c in page]
    next_after = rows[-1].kiosk.id if len(found) > PAGE_SIZE else None
    return FleetPage(rows, next_after)
