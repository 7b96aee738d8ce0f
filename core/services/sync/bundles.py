"""Bundles carried by hand (sneakernet): verify a kiosk's signed export and ingest its ratings
through the same idempotent path as a push.

Refusals of the whole file are ``ServiceError`` with a code of ``core.protocol.BUNDLE_ERRORS``.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from core import jsonsafe, protocol
from core.models import Kiosk
from core.services.accounts import audit
from core.services.errors import ServiceError
from core.services.sync.ingest import ingest
from core.services.sync.registry import by_public_id
from core.services.unit_of_work import write_unit


@dataclass
class BundleResult:
    kiosk_name: str
    accepted: int
    duplicates: int
    rejected: int
    reasons: dict[str, int]


def _verified(data: bytes) -> tuple[Kiosk, dict[str, Any]]:
    """The bundle's kiosk and inner document, or a refusal naming what is wrong."""
    try:
        outer = jsonsafe.loads(data)
        body = outer["bundle"]
        given = outer["signature"]
        if not isinstance(body, str) or not isinstance(given, str):
            raise TypeError
        inner = jsonsafe.loads(body)
        if (inner.get("format") != protocol.BUNDLE_FORMAT
                or not isinstance(inner.get("ratings"), list)):
            raise TypeError
        public_id = inner["kiosk_id"]
    except (ValueError, TypeError, KeyError, AttributeError, UnicodeDecodeError):
        raise ServiceError("not_a_bundle", status=422) from None
    kiosk = by_public_id(public_id)
    if kiosk is None:
        raise ServiceError("unknown_kiosk", status=422)
    # The current key, or the previous one while its rotation grace lasts (Kiosk.signing_keys).
    if not any(key and hmac.compare_digest(protocol.sign_bundle(key, body.encode()), given)
               for key in kiosk.signing_keys()):
        raise ServiceError("bad_signature", status=422)
    if kiosk.status != "active":
        raise ServiceError("revoked" if kiosk.status == "revoked" else "not_enrolled",
                           status=422)
    return kiosk, inner


def import_bundle(data: bytes, batch_size: int, user: Any = None) -> BundleResult:
    """Verify a kiosk's signed bundle and ingest it, ``batch_size`` ratings per write unit.

    Importing the same bundle twice stores nothing the second time (every item is a duplicate).
    Each batch is its own unit (the next one begins by committing it); the caller commits the
    last one and the audit entry.
    """
    kiosk, inner = _verified(data)
    offset = inner.get("clock_offset_s")
    if isinstance(offset, bool) or not isinstance(offset, int | float):
        offset = 0.0
    ratings = inner["ratings"]
    totals = {"accepted": 0, "duplicate": 0, "rejected": 0}
    reasons: dict[str, int] = {}
    kiosk_id, name, public_id, unit_id = kiosk.id, kiosk.name, kiosk.public_id, kiosk.unit_id
    for start in range(0, len(ratings), batch_size):
        result = ingest(kiosk_id, ratings[start:start + batch_size],
                        known_offset_s=float(offset), contact=False)
        for outcome in result.outcomes:
            totals[outcome.status] += 1
            if outcome.reason:
                reasons[outcome.reason] = reasons.get(outcome.reason, 0) + 1
    _record_import(public_id, unit_id, totals, user)
    return BundleResult(name, totals["accepted"], totals["duplicate"], totals["rejected"],
                        reasons)


@write_unit
def _record_import(public_id: str, unit_id: int, totals: dict[str, int], user: Any) -> None:
    audit.record("kiosk.bundle_import", user=user, username=None if user else "cli",
                 target_type="kiosk", target_id=public_id, unit_id=unit_id,
                 details={"accepted": totals["accepted"], "duplicates": totals["duplicate"],
                          "rejected": totals["rejected"]})
