"""The kiosk's enrolled identity: id, HMAC secret and aggregator URL, in an owner-only file.

Written once by enrollment (and by key rotation); read by the sync worker and by the thank-you
screen, which signs its QR tokens with the secret so they work while the kiosk is offline. How
requests and bundles are signed with it is the contract in core/protocol.py.
"""

from __future__ import annotations

import json
import os
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

