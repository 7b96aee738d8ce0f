"""The kiosk's enrolled identity: id, HMAC secret and aggregator URL, in an owner-only file.

Written once by enrollment (and by key rotation); read by the sync worker and by the thank-you
screen, which signs its QR tokens with the secret so they work while the kiosk is offline.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from flask import current_app

FILENAME = "kiosk_credentials.json"


@dataclass(frozen=True)
class Credentials:
    kiosk_id: str  # the kiosk's public id (a UUID) on the aggregator
    secret: str  # the HMAC key shared with the aggregator
    server_url: str  # the aggregator's base URL, e.g. https://hailong.example.gov.vn


def path(instance_path: str | None = None) -> Path:
    return Path(instance_path or current_app.config["INSTANCE_PATH"]) / FILENAME


def load(instance_path: str | None = None) -> Credentials | None:
    """The stored credentials, or None when this kiosk is not enrolled yet."""
    file = path(instance_path)
    if not file.exists():
        return None
    data = json.loads(file.read_text(encoding="utf-8"))
    return Credentials(data["kiosk_id"], data["secret"], data["server_url"].rstrip("/"))


def save(credentials: Credentials, instance_path: str | None = None) -> Path:
    """Write atomically with mode 0600: a crash never leaves half a key, nobody else can read it."""
    file = path(instance_path)
    from core.private_files import private_dir

    private_dir(file.parent)
    tmp = file.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(asdict(credentials), handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, file)
    os.chmod(file, 0o600)
    return file


# --- Request signatures -------------------------------------------------------------------------
# Every sync request carries these headers. The signature is an HMAC-SHA256 over the method, the
# path, the timestamp, the nonce and the SHA-256 of the body, one per line, so neither the body nor
# the target nor the time of a captured request can be changed without the key.
HEADER_KIOSK = "X-Sipas-Kiosk"
HEADER_TIMESTAMP = "X-Sipas-Timestamp"
HEADER_NONCE = "X-Sipas-Nonce"
HEADER_SIGNATURE = "X-Sipas-Signature"
HEADER_SERVER_TIME = "X-Sipas-Server-Time"


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def signature(secret: str, method: str, path_: str, timestamp: str, nonce: str,
              body: bytes) -> str:
    """The hex HMAC-SHA256 of one request (see the module note above for what it covers)."""
    message = "\n".join([method.upper(), path_, timestamp, nonce, body_hash(body)])
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def signed_headers(credentials: Credentials, method: str, path_: str, body: bytes,
                   now: float) -> dict[str, str]:
    """The headers that authenticate one request; ``now`` is the kiosk's corrected clock."""
    timestamp = str(int(now))
    nonce = secrets.token_hex(16)
    return {
        HEADER_KIOSK: credentials.kiosk_id,
        HEADER_TIMESTAMP: timestamp,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: signature(credentials.secret, method, path_, timestamp, nonce, body),
    }


BUNDLE_FORMAT = "sipas-kiosk-bundle"


def sign_bundle(secret: str, body: bytes) -> str:
    """The signature of an exported bundle's body (sneakernet: no time window, no nonce)."""
    return hmac.new(secret.encode(), b"sipas-bundle\n" + body, hashlib.sha256).hexdigest()
