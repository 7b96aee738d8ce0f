"""Ingesting kiosk ratings: validate each item, insert with a unique key, count what was inserted.

Exactly-once effect over at-least-once delivery: ``INSERT ... ON CONFLICT DO NOTHING RETURNING``
tells which rows this transaction actually inserted, and only those reach the rollups, in the same
transaction. A rating sent twice (a retry, a replayed bundle, two aggregator instances) is stored
and counted once; it is reported as ``duplicate`` so the kiosk can mark it sent.

Local day and hour (for the rollups) come from the device time corrected by the clock offset
measured in this very request (server receive time minus the kiosk's raw clock), so a kiosk whose
clock is an hour off still files its taps on the right day; when the request carries no device
clock the device time is taken as it is. The same corrected time is checked against "not in the
future" and "not before the kiosk was registered" (each with five minutes of slack).
"""

from __future__ import annotations

import json
import uuid as uuidlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects import sqlite

from core.database import begin_write
from core.extensions import db
from core.models import (
    MISUSE_REASONS,
    Kiosk,
    KioskRating,
    Officer,
    Procedure,
    Questionnaire,
    utcnow,
)
from core.services import rollups
from core.services.kiosks import SKEW_FLAG_S
from kiosk import identity

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
SLACK = timedelta(seconds=300)
INSERT_CHUNK = 500
LEVELS = {3: (2, 4, 5), 5: (1, 2, 3, 4, 5)}
TEXT_FIELDS = {"officer_code": 40, "dossier_code": 64, "procedure_code": 60}


@dataclass
class Outcome:
    index: int
    uuid: str | None
    seq: int | None
    status: str  # accepted | duplicate | rejected
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "uuid": self.uuid, "seq": self.seq,
                               "status": self.status}
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass
class IngestResult:
    outcomes: list[Outcome]
    contiguous_seq: int
    max_seq: int
    missing: list[tuple[int, int]] = field(default_factory=list)
    clock_offset_s: float | None = None

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)


@dataclass
class _Valid:
    index: int
    row: dict[str, Any]
    reasons: list[str]


class _Reject(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 timestamp with its offset (or Z), as aware UTC; None when it is not one."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.astimezone(UTC)


def _questionnaires() -> dict[int, set[str]]:
    """Known questionnaire versions and the follow-up reason codes each allows."""
    known: dict[int, set[str]] = {}
    for version, definition in db.session.execute(
        select(Questionnaire.version, Questionnaire.definition)
        .where(Questionnaire.code == "sipas-service")
    ):
        reasons = {r.get("code") for r in (definition or {}).get("followup_reasons", [])
                   if isinstance(r, dict)}
        known[version] = {r for r in reasons if isinstance(r, str)}
    return known


def _active_version(known: dict[int, set[str]]) -> int | None:
    active = db.session.scalar(
        select(Questionnaire.version).where(Questionnaire.code == "sipas-service",
                                            Questionnaire.active.is_(True))
    )
    return active if active is not None else (max(known) if known else None)


def _validate(index: int, item: Any, kiosk: Kiosk, offset: timedelta, received: datetime,
              known: dict[int, set[str]], default_version: int | None) -> _Valid:
    if not isinstance(item, dict):
        raise _Reject("not_an_object")
    raw_uuid = item.get("uuid")
    try:
        if not isinstance(raw_uuid, str) or len(raw_uuid) != 36:
            raise ValueError
        rating_uuid = str(uuidlib.UUID(raw_uuid))
    except ValueError:
        raise _Reject("invalid_uuid") from None
    seq = _int(item.get("seq"))
    if seq is None or seq < 1 or seq > 2**62:
        raise _Reject("invalid_seq")
    scale = _int(item.get("scale"))
    if scale not in LEVELS:
        raise _Reject("invalid_scale")
    level = _int(item.get("level"))
    if level not in LEVELS[scale]:
        raise _Reject("invalid_level")
    device_time = parse_time(item.get("device_time"))
    if device_time is None:
        raise _Reject("invalid_device_time")
    effective = device_time + offset
    if effective > received + SLACK:
        raise _Reject("future_device_time")
    if effective < kiosk.created_at - SLACK:
        raise _Reject("before_kiosk_registered")
    version = item.get("questionnaire_version", default_version)
    if version is None:
        version = default_version
    if _int(version) is None or version not in known:
        raise _Reject("unknown_questionnaire_version")
    reasons = item.get("reasons") or []
    if not isinstance(reasons, list) or len(reasons) > 20 or any(
        not isinstance(r, str) or r not in known[version] for r in reasons
    ):
        raise _Reject("invalid_reasons")
    misuse = item.get("misuse")
    if misuse is not None and misuse not in MISUSE_REASONS:
        raise _Reject("invalid_misuse")
    texts: dict[str, str | None] = {}
    for name, limit in TEXT_FIELDS.items():
        value = item.get(name)
        if value is not None and (not isinstance(value, str) or not value or len(value) > limit):
            raise _Reject("invalid_" + name)
        texts[name] = value
    local = effective.astimezone(LOCAL_TZ)
    row = {
        "uuid": rating_uuid,
        "kiosk_id": kiosk.id,
        "seq": seq,
        "unit_id": kiosk.unit_id,
        "counter_id": kiosk.counter_id,
        "officer_id": None,
        "procedure_id": None,
        "dossier_code": texts["dossier_code"],
        "scale": scale,
        "level": level,
        "reasons": sorted(set(reasons)) or None,
        "misuse": misuse,
        "questionnaire_version": version,
        "device_time": device_time,
        "received_at": received,
        "local_day": local.date(),
        "local_hour": local.hour,
        "extra": None,
        "_officer_code": texts["officer_code"],
        "_procedure_code": texts["procedure_code"],
    }
    return _Valid(index, row, row["reasons"] or [])


def _resolve_codes(kiosk: Kiosk, valid: list[_Valid]) -> None:
    """Map officer codes (within the kiosk's unit) and procedure codes to ids; unknown ones are
    kept in ``extra`` with a NULL id, never rejected."""
    officer_codes = {v.row["_officer_code"] for v in valid if v.row["_officer_code"]}
    procedure_codes = {v.row["_procedure_code"] for v in valid if v.row["_procedure_code"]}
    officers = dict(db.session.execute(
        select(Officer.code, Officer.id)
        .where(Officer.unit_id == kiosk.unit_id, Officer.code.in_(officer_codes))
    ).all()) if officer_codes else {}
    procedures = dict(db.session.execute(
        select(Procedure.code, Procedure.id).where(Procedure.code.in_(procedure_codes))
    ).all()) if procedure_codes else {}
    for v in valid:
        extra: dict[str, str] = {}
        officer_code = v.row.pop("_officer_code")
        procedure_code = v.row.pop("_procedure_code")
        if officer_code:
            v.row["officer_id"] = officers.get(officer_code)
            if v.row["officer_id"] is None:
                extra["officer_code"] = officer_code
        if procedure_code:
            v.row["procedure_id"] = procedures.get(procedure_code)
            if v.row["procedure_id"] is None:
                extra["procedure_code"] = procedure_code
        v.row["extra"] = extra or None


def _insert_new(rows: list[dict[str, Any]]) -> set[str]:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING uuid: the uuids this statement inserted.

    On PostgreSQL the rows travel as one JSON parameter expanded by json_populate_recordset, so
    the driver never parses a statement with thousands of placeholders; on SQLite one Core
    executemany (SQLAlchemy's "insertmanyvalues") does the same job.
    """
    table = KioskRating.__table__
    if db.session.get_bind().dialect.name == "postgresql":
        columns = [c.name for c in table.columns if c.name != "id"]
        names = ", ".join(columns)
        stmt = text(
            f"INSERT INTO kiosk_ratings ({names}) "  # noqa: S608 - column names from the model
            f"SELECT {names} FROM json_populate_recordset(NULL::kiosk_ratings, :rows) "
            "ON CONFLICT DO NOTHING RETURNING uuid"
        )
        payload = json.dumps([_pg_row(row, columns) for row in rows], ensure_ascii=False)
        return set(db.session.execute(stmt, {"rows": payload}).scalars())
    stmt = sqlite.insert(table).on_conflict_do_nothing().returning(table.c.uuid)
    return set(db.session.connection().execute(stmt, rows).scalars())


def _pg_row(row: dict[str, Any], columns: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in columns:
        value = row[name]
        if isinstance(value, datetime):
            # UTCDateTime stores naive UTC; the same here, since this bypasses the type.
            value = value.astimezone(UTC).replace(tzinfo=None).isoformat()
        elif hasattr(value, "isoformat"):
            value = value.isoformat()
        out[name] = value
    return out


def _rollup_keys(rows: Sequence[dict[str, Any]]) -> None:
    keys: list[rollups.Key] = []
    hours: list[tuple[int, Any, int, bool]] = []
    for row in rows:
        dims = {
            "unit_id": row["unit_id"], "day": row["local_day"], "channel": "kiosk",
            "counter_id": row["counter_id"], "officer_id": row["officer_id"] or 0,
            "procedure_id": row["procedure_id"] or 0, "misuse": row["misuse"] is not None,
        }
        keys.append(rollups.Key(item_code="TAP", level=row["level"], **dims))
        for reason in row["reasons"] or []:
            keys.append(rollups.Key(item_code="reason:" + reason, level=0, **dims))
        hours.append((row["unit_id"], row["local_day"], row["local_hour"], row["level"] >= 4,
                      row["misuse"] is not None))
    rollups.add(keys)
    rollups.add_hours(hours)


def _advance_contiguous(kiosk: Kiosk) -> None:
    """Move the highest contiguous sequence number forward over rows now present.

    Reads only as many rows as it advances (plus one): a gap stops it at once.
    """
    current = kiosk.contiguous_seq or 0
    chunk = 5000
    while True:
        seqs = db.session.scalars(
            select(KioskRating.seq)
            .where(KioskRating.kiosk_id == kiosk.id, KioskRating.seq > current)
            .order_by(KioskRating.seq).limit(chunk)
        ).all()
        for seq in seqs:
            if seq != current + 1:
                kiosk.contiguous_seq = current
                return
            current = seq
        if len(seqs) < chunk:
            break
    kiosk.contiguous_seq = current


def missing_ranges(kiosk: Kiosk, limit: int = 20) -> list[tuple[int, int]]:
    """Missing sequence ranges (first, last) above the highest contiguous number."""
    if (kiosk.max_seq or 0) <= (kiosk.contiguous_seq or 0):
        return []
    lagged = (
        select(KioskRating.seq.label("seq"),
               func.lag(KioskRating.seq).over(order_by=KioskRating.seq).label("prev"))
        .where(KioskRating.kiosk_id == kiosk.id,
               KioskRating.seq >= max(kiosk.contiguous_seq or 0, 1))
        .subquery()
    )
    gap = lagged.c.seq - lagged.c.prev > 1
    if not kiosk.contiguous_seq:
        # Nothing contiguous yet: a first row above 1 means 1..first-1 are missing.
        gap = gap | (lagged.c.prev.is_(None) & (lagged.c.seq > 1))
    rows = db.session.execute(
        select(lagged.c.prev, lagged.c.seq)
        .where(gap)
        .order_by(lagged.c.seq).limit(limit)
    ).all()
    return [((prev or 0) + 1, seq - 1) for prev, seq in rows]


def set_lock_timeout() -> None:
    """On PostgreSQL, give up waiting for a lock after SYNC_LOCK_TIMEOUT_MS (answered as 503)."""
    if db.session.get_bind().dialect.name == "postgresql":
        from flask import current_app

        timeout = int(current_app.config["SYNC_LOCK_TIMEOUT_MS"])
        db.session.execute(text(f"SET LOCAL lock_timeout = {timeout}"))


def _lock_kiosk(kiosk_id: int) -> Kiosk:
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


def record_contact(kiosk: Kiosk, offset_s: float | None, now: datetime) -> None:
    """Last seen, and the clock offset measured now (skew over five minutes is flagged)."""
    kiosk.last_seen_at = now
    if offset_s is not None:
        kiosk.clock_offset_s = round(offset_s, 3)
        kiosk.clock_skew_flag = abs(offset_s) > SKEW_FLAG_S


def ingest(kiosk_id: int, items: list[Any], device_clock: float | None = None,
           received: datetime | None = None, known_offset_s: float | None = None,
           contact: bool = True) -> IngestResult:
    """Store a batch of ratings from one kiosk in one transaction; one outcome per item.

    ``device_clock`` is the kiosk's raw clock when it sent the batch (the offset is measured from
    it); a bundle carried by hand passes the offset the kiosk knew instead (``known_offset_s``)
    and ``contact=False``, since importing it says nothing about the kiosk being online.
    """
    received = received or utcnow()
    offset_s = None if device_clock is None else received.timestamp() - device_clock
    if known_offset_s is not None:
        offset_s = known_offset_s
    offset = timedelta(seconds=offset_s or 0)
    begin_write()
    kiosk = _lock_kiosk(kiosk_id)
    known = _questionnaires()
    default_version = _active_version(known)
    outcomes: dict[int, Outcome] = {}
    valid: list[_Valid] = []
    seen_uuids: set[str] = set()
    seen_seqs: set[int] = set()
    uuids_to_check: dict[str, int] = {}
    for index, item in enumerate(items):
        try:
            v = _validate(index, item, kiosk, offset, received, known, default_version)
        except _Reject as rejection:
            raw = item.get("uuid") if isinstance(item, dict) else None
            seq = _int(item.get("seq")) if isinstance(item, dict) else None
            outcomes[index] = Outcome(index, raw if isinstance(raw, str) else None, seq,
                                      "rejected", rejection.reason)
            if isinstance(raw, str) and len(raw) == 36:
                # Stored earlier under another clock reading? Then it is a duplicate.
                uuids_to_check[raw] = index
            continue
        if v.row["uuid"] in seen_uuids or v.row["seq"] in seen_seqs:
            outcomes[index] = Outcome(index, v.row["uuid"], v.row["seq"], "rejected",
                                      "repeated_in_batch")
            continue
        seen_uuids.add(v.row["uuid"])
        seen_seqs.add(v.row["seq"])
        valid.append(v)
    _resolve_codes(kiosk, valid)
    inserted: set[str] = set()
    for start in range(0, len(valid), INSERT_CHUNK):
        inserted |= _insert_new([v.row for v in valid[start:start + INSERT_CHUNK]])
    inserted_rows = [v.row for v in valid if v.row["uuid"] in inserted]
    for v in valid:
        if v.row["uuid"] not in inserted:
            uuids_to_check[v.row["uuid"]] = v.index
        else:
            outcomes[v.index] = Outcome(v.index, v.row["uuid"], v.row["seq"], "accepted")
    if uuids_to_check:
        stored = dict(db.session.execute(
            select(KioskRating.uuid, KioskRating.kiosk_id)
            .where(KioskRating.uuid.in_(list(uuids_to_check)))
        ).all())
        by_index = {v.index: v for v in valid}
        for raw, index in uuids_to_check.items():
            seq = by_index[index].row["seq"] if index in by_index else outcomes[index].seq
            if stored.get(raw) == kiosk.id:
                outcomes[index] = Outcome(index, raw, seq, "duplicate")
            elif index in by_index:
                # Not inserted and not ours: the sequence number (or the uuid) is taken.
                reason = "uuid_conflict" if raw in stored else "seq_conflict"
                outcomes[index] = Outcome(index, raw, seq, "rejected", reason)
    _rollup_keys(inserted_rows)
    if inserted_rows:
        kiosk.max_seq = max(kiosk.max_seq or 0, max(r["seq"] for r in inserted_rows))
        _advance_contiguous(kiosk)
    if contact:
        record_contact(kiosk, offset_s, received)
    missing = missing_ranges(kiosk)
    result = IngestResult(
        outcomes=[outcomes[i] for i in range(len(items))],
        contiguous_seq=kiosk.contiguous_seq, max_seq=kiosk.max_seq, missing=missing,
        clock_offset_s=offset_s,
    )
    db.session.commit()
    return result


def heartbeat(kiosk_id: int, queue_depth: int, oldest_unsent_age_s: int | None,
              app_version: str | None, device_clock: float | None) -> Kiosk:
    """Store what the kiosk reports about its queue and version."""
    now = utcnow()
    begin_write()
    values: dict[str, Any] = {"queue_depth": queue_depth,
                              "oldest_unsent_age_s": oldest_unsent_age_s,
                              "app_version": app_version, "last_seen_at": now}
    if device_clock is not None:
        offset = now.timestamp() - device_clock
        values["clock_offset_s"] = round(offset, 3)
        values["clock_skew_flag"] = abs(offset) > SKEW_FLAG_S
    db.session.execute(update(Kiosk).where(Kiosk.id == kiosk_id).values(**values))
    db.session.commit()
    kiosk = db.session.get(Kiosk, kiosk_id)
    assert kiosk is not None
    return kiosk


# --- Bundles carried by hand (sneakernet) -------------------------------------------------------

BUNDLE_FORMAT = identity.BUNDLE_FORMAT


class BundleError(ValueError):
    """The file is not a bundle, its signature is wrong, or its kiosk may not send."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class BundleResult:
    kiosk_name: str
    accepted: int
    duplicates: int
    rejected: int
    reasons: dict[str, int]


def import_bundle(data: bytes, batch_size: int, user: Any = None) -> BundleResult:
    """Verify a kiosk's signed bundle and ingest it through the same idempotent path as a push.

    Importing the same bundle twice stores nothing the second time (every item is a duplicate).
    """
    from core import jsonsafe
    from kiosk.identity import sign_bundle

    try:
        outer = jsonsafe.loads(data)
        body = outer["bundle"]
        given = outer["signature"]
        if not isinstance(body, str) or not isinstance(given, str):
            raise TypeError
        inner = jsonsafe.loads(body)
        if inner.get("format") != BUNDLE_FORMAT or not isinstance(inner.get("ratings"), list):
            raise TypeError
        public_id = inner["kiosk_id"]
    except (ValueError, TypeError, KeyError, AttributeError, UnicodeDecodeError):
        raise BundleError("not_a_bundle") from None
    from core.services.kiosks import by_public_id

    kiosk = by_public_id(public_id)
    if kiosk is None:
        raise BundleError("unknown_kiosk")
    import hmac

    keys = [kiosk.secret]
    if kiosk.previous_secret_until and kiosk.previous_secret_until > utcnow():
        keys.append(kiosk.previous_secret)
    if not any(key and hmac.compare_digest(sign_bundle(key, body.encode()), given)
               for key in keys):
        raise BundleError("bad_signature")
    if kiosk.status != "active":
        raise BundleError("revoked" if kiosk.status == "revoked" else "not_enrolled")
    offset = inner.get("clock_offset_s")
    if isinstance(offset, bool) or not isinstance(offset, int | float):
        offset = 0.0
    ratings = inner["ratings"]
    totals = {"accepted": 0, "duplicate": 0, "rejected": 0}
    reasons: dict[str, int] = {}
    kiosk_id, name = kiosk.id, kiosk.name
    for start in range(0, len(ratings), batch_size):
        result = ingest(kiosk_id, ratings[start:start + batch_size],
                        known_offset_s=float(offset), contact=False)
        for outcome in result.outcomes:
            totals[outcome.status] += 1
            if outcome.reason:
                reasons[outcome.reason] = reasons.get(outcome.reason, 0) + 1
    from core.services import audit

    begin_write()
    audit.record("kiosk.bundle_import", user=user, username=None if user else "cli",
                 target_type="kiosk", target_id=public_id, unit_id=kiosk.unit_id,
                 details={"accepted": totals["accepted"], "duplicates": totals["duplicate"],
                          "rejected": totals["rejected"]})
    db.session.commit()
    return BundleResult(name, totals["accepted"], totals["duplicate"], totals["rejected"],
                        reasons)
