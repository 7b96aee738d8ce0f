"""Ingesting kiosk ratings: validate each item, insert with a unique key, count what was inserted.

Exactly-once effect over at-least-once delivery: ``INSERT ... ON CONFLICT DO NOTHING RETURNING``
tells which rows this transaction actually inserted, and only those reach the rollups, in the same
transaction. A rating sent twice (a retry, a replayed bundle, two aggregator instances) is stored
and counted once; it is reported as ``duplicate`` so the kiosk can mark it sent.

Local day and hour (for the rollups) come from the kiosk's own clock at the tap, corrected by the
kiosk's clock offset (``core.services.sync.contact.observe_clock``). When the request carries no
device clock the device time is taken as it is.

A rating signed with a valid key is never refused for its time (the counting rule, also in the
README's sync section):

- tapped before this kiosk identity was enrolled (a kiosk used before enrolment, or ratings
  carried over by ``kiosk enroll --force``): stored, flagged ``pre_enrollment`` and counted like
  any other, on the local day and hour of its corrected device time;
- corrected device time before CLOCK_FLOOR or more than five minutes in the future: the device
  time cannot be trusted, so the rating is filed at its receive time and flagged
  ``clock_suspect``.

Refused items are kept in ``kiosk_rejections`` with their reason (shown on the fleet page), and
their sequence numbers do not count as gaps (``core.services.sync.sequences``).

One batch is one write unit; the caller commits it before it acknowledges (a sync request
commits when the view has returned, before the answer leaves), so a kiosk never hears "stored"
for a rating that is not.
"""

from __future__ import annotations

import json
import uuid as uuidlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.dialects import postgresql, sqlite

from core import protocol
from core.clock import LOCAL_TZ
from core.codes import is_dossier_code
from core.extensions import db
from core.models import (
    MISUSE_REASONS,
    Kiosk,
    KioskRating,
    KioskRejection,
    Officer,
    Procedure,
    Questionnaire,
    utcnow,
)
from core.questionnaire_definition import SERVICE_QUESTIONNAIRE
from core.services import rollups
from core.services.sync.contact import observe_clock, record_contact
from core.services.sync.locks import lock_kiosk
from core.services.sync.sequences import advance_contiguous, missing_ranges
from core.services.unit_of_work import write_unit

SLACK = timedelta(seconds=300)
INSERT_CHUNK = 500
# No kiosk of this system rated anything before this day: an earlier time is a clock that was
# never set (a device without a battery-backed clock starts in 1970 or 2000).
CLOCK_FLOOR = datetime(2025, 1, 1, tzinfo=UTC)


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


def _questionnaires() -> dict[int, set[str]]:
    """Known questionnaire versions and the follow-up reason codes each allows."""
    known: dict[int, set[str]] = {}
    for version, definition in db.session.execute(
        select(Questionnaire.version, Questionnaire.definition)
        .where(Questionnaire.code == SERVICE_QUESTIONNAIRE)
    ):
        reasons = {r.get("code") for r in (definition or {}).get("followup_reasons", [])
                   if isinstance(r, dict)}
        known[version] = {r for r in reasons if isinstance(r, str)}
    return known


def _active_version(known: dict[int, set[str]]) -> int | None:
    active = db.session.scalar(
        select(Questionnaire.version).where(Questionnaire.code == SERVICE_QUESTIONNAIRE,
                                            Questionnaire.active.is_(True))
    )
    return active if active is not None else (max(known) if known else None)


def _validate(index: int, item: Any, kiosk: Kiosk, offset: timedelta, received: datetime,
              known: dict[int, set[str]], default_version: int | None) -> _Valid:
    if not isinstance(item, dict):
        raise _Reject("not_an_object")
    raw_uuid = item.get("uuid")
    try:
        if not isinstance(raw_uuid, str) or len(raw_uuid) != protocol.UUID_LENGTH:
            raise ValueError
        rating_uuid = str(uuidlib.UUID(raw_uuid))
    except ValueError:
        raise _Reject("invalid_uuid") from None
    seq = _int(item.get("seq"))
    if seq is None or seq < 1 or seq > protocol.SEQ_MAX:
        raise _Reject("invalid_seq")
    scale = _int(item.get("scale"))
    if scale not in protocol.LEVELS:
        raise _Reject("invalid_scale")
    level = _int(item.get("level"))
    if level not in protocol.LEVELS[scale]:
        raise _Reject("invalid_level")
    device_time = protocol.parse_time(item.get("device_time"))
    if device_time is None:
        raise _Reject("invalid_device_time")
    effective = device_time + offset
    clock_suspect = effective < CLOCK_FLOOR or effective > received + SLACK
    enrolled = kiosk.enrolled_at or kiosk.created_at
    pre_enrollment = not clock_suspect and effective < enrolled - SLACK
    version = item.get("questionnaire_version", default_version)
    if version is None:
        version = default_version
    if _int(version) is None or version not in known:
        raise _Reject("unknown_questionnaire_version")
    reasons = item.get("reasons") or []
    if not isinstance(reasons, list) or len(reasons) > protocol.MAX_REASONS or any(
        not isinstance(r, str) or r not in known[version] for r in reasons
    ):
        raise _Reject("invalid_reasons")
    misuse = item.get("misuse")
    if misuse is not None and misuse not in MISUSE_REASONS:
        raise _Reject("invalid_misuse")
    texts: dict[str, str | None] = {}
    for name, limit in protocol.TEXT_FIELDS.items():
        value = item.get(name)
        if value is not None and (not isinstance(value, str) or not value or len(value) > limit
                                  or (name == "dossier_code" and not is_dossier_code(value))):
            raise _Reject("invalid_" + name)
        texts[name] = value
    local = (received if clock_suspect else effective).astimezone(LOCAL_TZ)
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
        "pre_enrollment": pre_enrollment,
        "clock_suspect": clock_suspect,
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


def _record_rejections(kiosk: Kiosk, outcomes: list[Outcome], now: datetime) -> None:
    """Keep each refusal (once per kiosk, number and reason) so it is never silent."""
    rows = [
        {"kiosk_id": kiosk.id, "seq": o.seq if o.seq is not None and 0 < o.seq <= 2**62 else None,
         "uuid": o.uuid[:36] if isinstance(o.uuid, str) else None,
         "reason": (o.reason or "rejected")[:40], "rejected_at": now}
        for o in outcomes if o.status == "rejected"
    ]
    if not rows:
        return
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    db.session.execute(insert(KioskRejection).on_conflict_do_nothing(), rows)


@write_unit
def ingest(kiosk_id: int, items: list[Any], device_clock: float | None = None,
           received: datetime | None = None, known_offset_s: float | None = None,
           contact: bool = True) -> IngestResult:
    """Store a batch of ratings from one kiosk in one transaction; one outcome per item.

    ``device_clock`` is the kiosk's raw clock when it sent the batch (the offset is measured from
    it); a bundle carried by hand passes the offset the kiosk knew instead (``known_offset_s``)
    and ``contact=False``, since importing it says nothing about the kiosk being online.
    """
    received = received or utcnow()
    kiosk = lock_kiosk(kiosk_id)
    offset_s: float | None = None
    if known_offset_s is not None:
        offset_s = known_offset_s
    elif device_clock is not None:
        offset_s = observe_clock(kiosk, received.timestamp() - device_clock, received)
    offset = timedelta(seconds=offset_s or 0)
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
        # A rating's identity is (kiosk, uuid): another kiosk's rating with the same uuid is
        # not this one, and cannot stand in its way.
        stored = set(db.session.scalars(
            select(KioskRating.uuid)
            .where(KioskRating.kiosk_id == kiosk.id,
                   KioskRating.uuid.in_(list(uuids_to_check)))
        ))
        by_index = {v.index: v for v in valid}
        for raw, index in uuids_to_check.items():
            seq = by_index[index].row["seq"] if index in by_index else outcomes[index].seq
            if raw in stored:
                outcomes[index] = Outcome(index, raw, seq, "duplicate")
            elif index in by_index:
                # Not inserted and not stored: another rating of this kiosk has the number.
                outcomes[index] = Outcome(index, raw, seq, "rejected", "seq_conflict")
    _rollup_keys(inserted_rows)
    ordered = [outcomes[i] for i in range(len(items))]
    _record_rejections(kiosk, ordered, received)
    if inserted_rows:
        # A rating refused once and stored now is no longer a refusal.
        db.session.execute(delete(KioskRejection).where(
            KioskRejection.kiosk_id == kiosk.id,
            KioskRejection.uuid.in_([r["uuid"] for r in inserted_rows])))
        kiosk.max_seq = max(kiosk.max_seq or 0, max(r["seq"] for r in inserted_rows))
        kiosk.pre_enrollment_count = (kiosk.pre_enrollment_count or 0) + sum(
            1 for r in inserted_rows if r["pre_enrollment"])
        kiosk.clock_suspect_count = (kiosk.clock_suspect_count or 0) + sum(
            1 for r in inserted_rows if r["clock_suspect"])
    if inserted_rows or any(o.status == "rejected" for o in ordered):
        advance_contiguous(kiosk)
    if contact:
        record_contact(kiosk, offset_s, received)
    missing = missing_ranges(kiosk)
    result = IngestResult(
        outcomes=ordered,
        contiguous_seq=kiosk.contiguous_seq, max_seq=kiosk.max_seq, missing=missing,
        clock_offset_s=offset_s,
    )
    return result
