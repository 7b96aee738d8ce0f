"""The audit log of sensitive actions."""

from __future__ import annotations

from typing import Any

from flask import has_request_context, request

from core.extensions import db
from core.models import AuditEntry, User


def record(
    action: str,
    *,
    user: User | None = None,
    username: str | None = None,
    target_type: str | None = None,
    target_id: object = None,
    unit_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit entry to the current unit of work; the calling service commits it."""
    entry = AuditEntry(
        action=action,
        user_id=user.id if user is not None else None,
        username=user.username if user is not None else username,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        unit_id=unit_id,
        ip=request.remote_addr if has_request_context() else "cli",
        details=details,
    )
    db.session.add(entry)
    return entry
