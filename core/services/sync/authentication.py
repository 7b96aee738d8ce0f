"""Authenticating a kiosk's signed sync request: signature (current or, after a rotation, the
previous key), kiosk status, clock window and nonce, in that order.

Each refusal is a ``ServiceError`` with a protocol code and its HTTP status; api/sync.py answers
it as a JSON error in the reader's language.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, update
from sqlalchemy.dialects import postgresql, sqlite

from core import protocol
from core.extensions import db
from core.models import Kiosk, SyncNonce, utcnow
from core.services.accounts import audit
from core.services.errors import ServiceError
from core.services.sync.locks import set_lock_timeout
from core.services.sync.registry import by_public_id
from core.services.unit_of_work import write_unit

CLOCK_WINDOW_S = 300
NONCE_KEEP_S = 2 * CLOCK_WINDOW_S + 60


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
    ``revoked``, ``not_enrolled``, ``clock_skew`` (with the server's time), ``key_rotated`` and
    ``replay``.
    """
    public_id = headers.get(protocol.HEADER_KIOSK, "")
    timestamp = headers.get(protocol.HEADER_TIMESTAMP, "")
    nonce = headers.get(protocol.HEADER_NONCE, "")
    given = headers.get(protocol.HEADER_SIGNATURE, "")
    if not (public_id and timestamp and nonce and given):
        raise ServiceError("unsigned", status=401)
    if not timestamp.isdigit() or len(timestamp) > 12 or len(nonce) > 64 or len(given) > 128:
        raise ServiceError("bad_signature", status=401)
    kiosk = by_public_id(public_id)
    if kiosk is None:
        raise ServiceError("unknown_kiosk", status=401)
    used_previous = False
    if not _matches(kiosk.secret, method, path, timestamp, nonce, body, given):
        at = datetime.fromtimestamp(now, UTC)
        if kiosk.previous_key_valid(at) and _matches(
            kiosk.previous_secret, method, path, timestamp, nonce, body, given
        ):
            used_previous = True
        else:
            raise ServiceError("bad_signature", status=401)
    if kiosk.status == "revoked":
        raise ServiceError("revoked", status=403)
    if kiosk.status != "active":
        raise ServiceError("not_enrolled", status=403)
    if abs(int(timestamp) - now) > CLOCK_WINDOW_S:
        raise ServiceError("clock_skew", status=401, server_time=now)
    if used_previous and (method, path) != ("GET", protocol.CONFIG_PATH):
        # A rotated key may fetch the new one and nothing else: a copy of the old key pushes
        # nothing, and the real kiosk pulls its configuration first in every cycle.
        raise ServiceError("key_rotated", status=401)
    if not _remember_nonce(kiosk.id, nonce):
        raise ServiceError("replay", status=409)
    if not used_previous and kiosk.previous_secret is not None:
        _retire_previous_key(kiosk)
    return Authenticated(kiosk, used_previous)


@write_unit
def _retire_previous_key(kiosk: Kiosk) -> None:
    """The kiosk signed with its new key, so it has it: the old key is refused from now on."""
    db.session.execute(update(Kiosk).where(Kiosk.id == kiosk.id)
                       .values(previous_secret=None, previous_secret_until=None))
    audit.record("kiosk.rotate_done", username="kiosk", target_type="kiosk",
                 target_id=kiosk.public_id, unit_id=kiosk.unit_id)
    db.session.flush()
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
    return _store_nonce(kiosk_id, nonce)


@write_unit
def _store_nonce(kiosk_id: int, nonce: str) -> bool:
    """Insert the nonce unless it is there (the unique key decides); True when inserted."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    set_lock_timeout()
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
    return stored is not None
