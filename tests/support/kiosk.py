"""Helpers for the kiosk tests: a configured kiosk state, officers with PINs, reading the outbox."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from core.extensions import db
from core.models import KioskState, OfficerShift, OutboxRating
from core.models.types import utcnow
from core.passwords import hash_pin

PINS = {"CB001": "1111", "CB002": "2222"}
_HASHES: dict[str, str] = {}


def officers() -> list[dict[str, Any]]:
    """The roster as sync writes it: PIN hashes, never PINs (hashed once per test session)."""
    names = {"CB001": "Nguyễn Thị Lan", "CB002": "Trần Văn Minh"}
    for code, pin in PINS.items():
        _HASHES.setdefault(code, hash_pin(pin))
    return [{"code": code, "name": names[code], "pin_hash": _HASHES[code], "photo_url": None}
            for code in PINS]


def kiosk_config(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "kiosk": {"id": "6f1c2a0e-0000-4000-8000-000000000001", "name": "Kiosk quầy 01"},
        "unit": {"id": 2, "code": "T-DEMO-TTHCC", "name": "Trung tâm Phục vụ hành chính công"},
        "counter": {"id": 1, "code": "Q01", "name": "Quầy 01 – Tư pháp"},
        "scale": 3,
        "min_interval_s": 5,
        "require_transaction": False,
        "idle_timeout_s": 15,
        "followup_timeout_s": 20,
        "languages": ["vi", "en"],
        "questionnaire_version": 1,
        "survey_token_days": 7,
        "public_url": "http://127.0.0.1:8000",
        "officers": officers(),
    }
    config.update(overrides)
    return config


def configure(**overrides: Any) -> dict[str, Any]:
    """Write KioskState.config as the sync worker would (in the test's app context)."""
    config = kiosk_config(**overrides)
    state = db.session.get(KioskState, 1)
    if state is None:
        state = KioskState(id=1, next_seq=1)
        db.session.add(state)
    state.config = config
    db.session.commit()
    return config


def ratings() -> list[OutboxRating]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxRating).order_by(OutboxRating.seq)))


def open_shifts() -> list[OfficerShift]:
    db.session.expire_all()
    return list(db.session.scalars(
        select(OfficerShift).where(OfficerShift.signed_out_at.is_(None))))


def age_last_tap(seconds: float) -> None:
    """Pretend the previous tap was ``seconds`` ago (instead of sleeping through the interval)."""
    db.session.expire_all()
    state = db.session.get(KioskState, 1)
    assert state is not None and state.last_tap_at is not None
    state.last_tap_at = utcnow() - timedelta(seconds=seconds)
    db.session.commit()


REF_RE = re.compile(r'name="r" value="([^"]+)"')


def followup_ref(html: str) -> str:
    match = REF_RE.search(html)
    assert match, "page has no follow-up reference"
    return match.group(1)


def prepare_live_kiosk(tmp_path, enrolled: bool = True, **config: Any) -> tuple[dict, str]:
    """A migrated kiosk database with KioskState.config written (and credentials when enrolled).

    Returns the gunicorn environment and the database URL, for a ``tests.support.live.Server``.
    """
    from sqlalchemy import create_engine

    from kiosk import identity
    from tests.support.live import fresh_database_url, prepared

    url = fresh_database_url("kiosk_" + tmp_path.name[-20:].replace("-", "_"), tmp_path)
    instance = tmp_path / "instance"
    env = prepared("kiosk", url, instance, seed=False, SIPAS_KIOSK_TECH_PIN="246810",
                   SIPAS_KIOSK_LOCAL_API_KEY="counter-software-key-0123456789")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(KioskState.__table__.insert().values(
            id=1, next_seq=1, config=kiosk_config(**config)))
    engine.dispose()
    if enrolled:
        identity.save(identity.Credentials(
            kiosk_id="6f1c2a0e-0000-4000-8000-000000000001",
            secret="live-kiosk-secret-0123456789abcdef",
            server_url="http://127.0.0.1:8000"), str(instance))
    return env, url


def outbox_rows(url: str) -> list[dict[str, Any]]:
    """The outbox as the disk holds it, read with a connection of our own."""
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(OutboxRating.__table__).order_by(OutboxRating.seq))
            return [dict(row._mapping) for row in rows]
    finally:
        engine.dispose()
