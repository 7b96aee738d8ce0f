"""Helpers for sync tests: enroll a kiosk, build ratings, send signed requests to a test client."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from core import protocol
from kiosk import identity


def register_demo_kiosk(counter_code: str = "Q01", unit_code: str = "T-DEMO-TTHCC",
                        name: str = "Kiosk test"):
    """Register a kiosk at a demo counter (committed); returns (kiosk, one-time code)."""
    from core.extensions import db
    from core.services.sync import registry

    done = registry.register(registry.find_counter(unit_code, counter_code), name)
    db.session.commit()
    return done.kiosk, done.code


def enroll(client, code: str) -> identity.Credentials:
    response = client.post("/api/v1/sync/enroll", json={"code": code})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    return identity.Credentials(body["kiosk_id"], body["secret"], "http://localhost")


def enrolled(client, **kwargs) -> identity.Credentials:
    _kiosk, code = register_demo_kiosk(**kwargs)
    return enroll(client, code)


def rating(seq: int, level: int = 5, when: datetime | None = None, **fields: Any) -> dict:
    item = {
        "uuid": str(uuid.uuid4()),
        "seq": seq,
        "scale": 3,
        "level": level,
        "reasons": [],
        "officer_code": None,
        "dossier_code": None,
        "procedure_code": None,
        "misuse": None,
        "device_time": (when or datetime.now(UTC) - timedelta(seconds=1)).isoformat(),
        "questionnaire_version": 1,
    }
    item.update(fields)
    return item


def signed(client, creds: identity.Credentials, method: str, path: str, payload: Any = None,
           now: float | None = None, raw: bytes | None = None, headers: dict | None = None):
    body = raw if raw is not None else (b"" if payload is None else json.dumps(payload).encode())
    sig = protocol.signed_headers(creds, method, path, body, time.time() if now is None else now)
    return client.open(path, method=method, data=body, headers={**sig, **(headers or {}),
                       "Content-Type": "application/json"})


def push(client, creds, ratings: list[dict], **kwargs):
    return signed(client, creds, "POST", "/api/v1/sync/push",
                  {"device_clock": time.time(), "ratings": ratings}, **kwargs)


def signature_headers(creds: identity.Credentials, method: str, path: str,
                      body: bytes) -> dict[str, str]:
    """The headers a kiosk would send with ``body`` now (a fresh nonce each call)."""
    return protocol.signed_headers(creds, method, path, body, time.time())
