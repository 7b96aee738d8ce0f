"""Compact signed tokens for QR codes and links: base64url(JSON payload) "." base64url(HMAC).

A kiosk signs its thank-you QR with its own secret (so the link works while it is offline); the
aggregator signs poster and dossier tokens with a key derived from SECRET_KEY. The payload names
its issuer (``k`` = kiosk public id, or ``a`` for the aggregator), so the verifier knows which key
to use before trusting anything else in it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from core import jsonsafe


class SignedTokenError(ValueError):
    """The token is malformed, tampered with or expired; ``reason`` says which.

    The signing primitive's own low-level error: a service that verifies tokens turns it into a
    ``ServiceError`` code (core/services/survey/flow.py) and never lets it reach a blueprint.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(payload: dict[str, Any], key: bytes | str) -> str:
    key_bytes = key.encode() if isinstance(key, str) else key
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    mac = hmac.new(key_bytes, body.encode(), hashlib.sha256).digest()[:16]
    return f"{body}.{_b64(mac)}"


def peek(token: str) -> dict[str, Any]:
    """The payload WITHOUT verifying it: only to find out which key verifies it."""
    if not isinstance(token, str) or len(token) > 1024 or token.count(".") != 1:
        raise SignedTokenError("malformed")
    body, _mac = token.split(".")
    try:
        payload = jsonsafe.loads(_unb64(body))
    except (ValueError, UnicodeDecodeError):
        raise SignedTokenError("malformed") from None
    if not isinstance(payload, dict):
        raise SignedTokenError("malformed")
    return payload


def verify(token: str, key: bytes | str, now: float | None = None,
           max_lifetime_s: float | None = None) -> dict[str, Any]:
    """The payload of a token signed with ``key``; SignedTokenError says why not ("tampered" ...).

    Every token must carry an expiry (``exp``): one without never expired, so it is refused as
    malformed. With ``max_lifetime_s`` an expiry further ahead than that is refused too (a
    signer, such as a kiosk with a wrong clock or setting, cannot mint a link for years).
    """
    payload = peek(token)
    key_bytes = key.encode() if isinstance(key, str) else key
    body, mac = token.split(".")
    try:
        given = _unb64(mac)
    except ValueError:
        raise SignedTokenError("malformed") from None
    expected = hmac.new(key_bytes, body.encode(), hashlib.sha256).digest()[:16]
    if not hmac.compare_digest(given, expected):
        raise SignedTokenError("tampered")
    exp = payload.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise SignedTokenError("malformed")
    moment = time.time() if now is None else now
    if moment > exp:
        raise SignedTokenError("expired")
    if max_lifetime_s is not None and exp > moment + max_lifetime_s:
        raise SignedTokenError("malformed")
    return payload


def aggregator_key(secret_key: str, purpose: str) -> bytes:
    """A key per purpose derived from SECRET_KEY, so one leaked token type cannot forge another."""
    return hmac.new(secret_key.encode(), f"sipas-token:{purpose}".encode(), hashlib.sha256).digest()
