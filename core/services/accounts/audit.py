"""The audit log of sensitive actions: written by services, searched by system administrators.

Actions are dotted names: ``login``, ``login.failed``, ``login.locked``, ``user.*``,
``unit.*``, ``counter.*``, ``officer.*``, ``catalog.*``, ``questionnaire.*``, ``export``,
``officer_view`` (every view of officer-level figures), ``kiosk.*`` (sync branch).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import has_request_context, request
from sqlalchemy import select

from core.clock import LOCAL_TZ
from core.extensions import db
from core.models import AuditEntry, Unit, User
from core.services.pagination import PAGE_SIZE, Page, keyset

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _printable(value: Any) -> Any:
    """Control characters replaced by U+FFFD, in strings and in nested details.

    A refused attempt is audited with what was typed (a username with a NUL in it, say), and
    PostgreSQL stores no NUL in text or JSON: the audit itself must not fail.
    """
    if isinstance(value, str):
        return _CONTROL_RE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_printable(k): _printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_printable(v) for v in value]
    return value


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
    """Add an audit entry to the current unit of work (the request or CLI command commits it)."""
    entry = AuditEntry(
        action=action,
        user_id=user.id if user is not None else None,
        username=_printable(user.username if user is not None else username),
        target_type=target_type,
        target_id=None if target_id is None else _printable(str(target_id)),
        unit_id=unit_id,
        ip=(request.remote_addr or "")[:64] if has_request_context() else "cli",
        details=_printable(details),
    )
    db.session.add(entry)
    return entry


def record_config(
    user: User | None,
    action: str,
    target: Any,
    *,
    unit_id: int | None,
    changes: dict[str, Any] | None = None,
) -> AuditEntry:
    """A configuration change (unit, counter, officer, settings, questionnaire, catalogue).

    ``changes`` maps a field to ``[before, after]``; secrets (PIN hashes) are never passed in.
    """
    return record(
        action,
        user=user,
        target_type=type(target).__name__.lower() if target is not None else None,
        target_id=getattr(target, "id", None),
        unit_id=unit_id,
        details={"changes": changes} if changes else None,
    )


def record_export(
    user: User, kind: str, *, unit_id: int | None, params: dict[str, Any] | None = None
) -> AuditEntry:
    """A data export (CSV, XLSX, API pull) with what was asked for."""
    return record(
        "export", user=user, target_type=kind, unit_id=unit_id, details=params or None
    )


def record_officer_view(
    user: User,
    *,
    unit_id: int | None,
    officer_id: int | None = None,
    what: str = "figures",
    params: dict[str, Any] | None = None,
) -> AuditEntry:
    """A view of officer-level figures (a manager's or administrator's page or API call)."""
    details = {"what": what, **(params or {})}
    return record(
        "officer_view",
        user=user,
        target_type="officer" if officer_id is not None else None,
        target_id=officer_id,
        unit_id=unit_id,
        details=details,
    )


def changes_between(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Field -> [before, after] for the fields that differ (what an audit entry records)."""
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


@dataclass(frozen=True)
class AuditQuery:
    """Search filters; dates are local (``core.clock.LOCAL_TZ``) days, both ends included."""

    action: str | None = None
    username: str | None = None
    unit_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), LOCAL_TZ).astimezone(UTC)


def search(filters: AuditQuery, after: int | None = None, limit: int = PAGE_SIZE) -> Page:
    """(entry, unit name) rows, newest first, keyset-paginated by id.

    Callers check that the user is a system administrator.
    """
    # The unit's name comes along (outer join: many entries have no unit).
    query = select(AuditEntry, Unit.name).outerjoin(Unit, Unit.id == AuditEntry.unit_id)
    if filters.action:
        action = filters.action.strip()
        # "user" finds user.create, user.update ...; "user.create" finds exactly that.
        query = query.where(
            (AuditEntry.action == action) | AuditEntry.action.startswith(action + ".",
                                                                          autoescape=True)
        )
    if filters.username:
        query = query.where(AuditEntry.username == filters.username.strip().lower())
    if filters.unit_id is not None:
        query = query.where(AuditEntry.unit_id == filters.unit_id)
    if filters.date_from is not None:
        query = query.where(AuditEntry.at >= _local_midnight(filters.date_from))
    if filters.date_to is not None:
        query = query.where(AuditEntry.at < _local_midnight(filters.date_to + timedelta(days=1)))
    return keyset(query, AuditEntry.id, after, limit=limit, descending=True, scalars=False,
                  key=lambda row: row[0].id)
