"""The kiosk ↔ aggregator contract, in one place both sides import.

What is here: the sync endpoints' paths, how a request is signed (headers, HMAC), the rating item
a kiosk sends (fields, levels, limits), the sneakernet bundle (format, signature) and the error
codes the aggregator answers with. What is not: the kiosk's own credentials file
(kiosk/identity.py), the aggregator's checks against its database (core/services/sync/) and
the words shown for each code (api/sync.py, admin/kiosks.py, kiosk/views.py).
Pure: no Flask, no database, so a change to the contract is a change to this file (the scales
come from the index engine core/sipas.py, pure too).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime
from typing import Any, Protocol

from core.sipas import SCALE_LEVELS

# --- Endpoints ----------------------------------------------------------------------------------
SYNC_PREFIX = "/api/v1/sync"
ENROLL_PATH = SYNC_PREFIX + "/enroll"
PUSH_PATH = SYNC_PREFIX + "/push"
CONFIG_PATH = SYNC_PREFIX + "/config"
HEARTBEAT_PATH = SYNC_PREFIX + "/heartbeat"

# --- Request signatures -------------------------------------------------------------------------
# Every sync request but enrollment carries these headers. The signature is an HMAC-SHA256 over
# the method, the path, the timestamp, the nonce and the SHA-256 of the body, one per line, so
# neither the body nor the target nor the time of a captured request can be changed without the
# key. Every answer carries the server's clock, so a kiosk can keep its offset current.
HEADER_KIOSK = "X-Sipas-Kiosk"
HEADER_TIMESTAMP = "X-Sipas-Timestamp"
HEADER_NONCE = "X-Sipas-Nonce"
HEADER_SIGNATURE = "X-Sipas-Signature"
HEADER_SERVER_TIME = "X-Sipas-Server-Time"
SIGNED_HEADERS = (HEADER_KIOSK, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE)


class Signer(Protocol):
    """Whoever signs: a kiosk's public id and its HMAC key (kiosk.identity.Credentials is one)."""

    @property
    def kiosk_id(self) -> str: ...

    @property
    def secret(self) -> str: ...


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def signature(secret: str, method: str, path_: str, timestamp: str, nonce: str,
              body: bytes) -> str:
    """The hex HMAC-SHA256 of one request (see the note above for what it covers)."""
    message = "\n".join([method.upper(), path_, timestamp, nonce, body_hash(body)])
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def signed_headers(signer: Signer, method: str, path_: str, body: bytes,
                   now: float) -> dict[str, str]:
    """The headers that authenticate one request; ``now`` is the kiosk's corrected clock."""
    timestamp = str(int(now))
    nonce = secrets.token_hex(16)
    return {
        HEADER_KIOSK: signer.kiosk_id,
        HEADER_TIMESTAMP: timestamp,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: signature(signer.secret, method, path_, timestamp, nonce, body),
    }


# --- Bundles carried by hand (sneakernet) -------------------------------------------------------
# A file {"bundle": <JSON text>, "signature": <hex>}; the inner JSON has "format" (below),
# "version", "kiosk_id", "created_at", "clock_offset_s" and "ratings" (items as in a push).
BUNDLE_FORMAT = "sipas-kiosk-bundle"
BUNDLE_VERSION = 1


def sign_bundle(secret: str, body: bytes) -> str:
    """The signature of an exported bundle's body (no time window, no nonce)."""
    return hmac.new(secret.encode(), b"sipas-bundle\n" + body, hashlib.sha256).hexdigest()


# --- One rating, as a kiosk sends it ------------------------------------------------------------
RATING_REQUIRED = ("uuid", "seq", "scale", "level", "device_time")
LEVELS = SCALE_LEVELS  # the levels each scale may send (core/sipas.py, the one home)
UUID_LENGTH = 36  # the canonical text form, with hyphens
SEQ_MAX = 2**62
MAX_REASONS = 20
MAX_TIME_LENGTH = 40
TEXT_FIELDS = {"officer_code": 40, "dossier_code": 64, "procedure_code": 60}  # longest allowed


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 timestamp with its offset (or Z), as aware UTC; None when it is not one."""
    if not isinstance(value, str) or len(value) > MAX_TIME_LENGTH:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.astimezone(UTC)


def rating_schema() -> dict[str, Any]:
    """The rating item as a JSON Schema (for the OpenAPI document), from the limits above."""
    texts = {name: {"type": ["string", "null"], "maxLength": limit}
             for name, limit in TEXT_FIELDS.items()}
    return {
        "type": "object",
        "required": list(RATING_REQUIRED),
        "properties": {
            "uuid": {"type": "string", "format": "uuid"},
            "seq": {"type": "integer", "minimum": 1},
            "scale": {"type": "integer", "enum": sorted(LEVELS)},
            "level": {"type": "integer", "minimum": 1, "maximum": 5},
            "device_time": {"type": "string", "format": "date-time"},
            "reasons": {"type": ["array", "null"], "items": {"type": "string"}},
            **texts,
            "misuse": {"type": ["string", "null"]},
            "questionnaire_version": {"type": ["integer", "null"]},
        },
    }


# --- Error codes --------------------------------------------------------------------------------
# A refused request answers {"error": {"status", "code", "message", ...}} with one of these codes.
REQUEST_ERRORS = (
    "unsigned", "unknown_kiosk", "bad_signature", "revoked", "key_rotated", "not_enrolled",
    "clock_skew", "replay", "invalid_code", "code_expired", "invalid_json", "invalid_request",
    "batch_too_large", "body_too_large", "rate_limited", "busy",
)
# A refused item of a push answers {"status": "rejected", "reason": <one of these>}.
ITEM_REASONS = (
    "not_an_object", "invalid_uuid", "invalid_seq", "invalid_scale", "invalid_level",
    "invalid_device_time", "unknown_questionnaire_version", "invalid_reasons", "invalid_misuse",
    "invalid_officer_code", "invalid_dossier_code", "invalid_procedure_code",
    "repeated_in_batch", "seq_conflict",
    # No longer given, but kiosks still hold ratings an older server refused with them: a kiosk
    # sends those again (RETIRED_REASONS).
    "future_device_time", "before_kiosk_registered", "uuid_conflict",
)
RETIRED_REASONS = ("before_kiosk_registered", "future_device_time", "uuid_conflict")
# Why an imported bundle was refused as a whole.
BUNDLE_ERRORS = ("not_a_bundle", "unknown_kiosk", "bad_signature", "revoked", "not_enrolled")
