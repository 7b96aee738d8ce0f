"""Row locks of the sync path: one kiosk's batches apply one at a time, and never wait forever."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select, text

from core.extensions import db
from core.models import Kiosk


def set_lock_timeout() -> None:
    """On PostgreSQL, give up waiting for a lock after SYNC_LOCK_TIMEOUT_MS (answered as 503)."""
    if db.session.get_bind().dialect.name == "postgresql":
        timeout = int(current_app.config["SYNC_LOCK_TIMEOUT_MS"])
        db.session.execute(text(f"SET LOCAL lock_timeout = {timeout}"))


def lock_kiosk(kiosk_id: int) -> Kiosk:
    """The kiosk row, locked for this transaction: one kiosk's batches apply one at a time."""
    set_lock_timeout()
    # FOR NO KEY UPDATE: it still serialises this kiosk's batches, but does not block the
    # foreign-key checks (KEY SHARE) of other kiosks' rows or of nonce inserts.
    kiosk = db.session.scalar(
        select(Kiosk).where(Kiosk.id == kiosk_id).with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    assert kiosk is not None
    return kiosk
