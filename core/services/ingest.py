"""Ingesting kiosk ratings: validate each item, insert with a unique key, count what was inserted.

Exactly-once effect over at-least-once delivery: ``INSERT ... ON CONFLICT DO NOTHING RETURNING``
tells which rows this transaction actually inserted, and only those reach the rollups, in the same
transaction. A rating sent twice (a retry, a replayed bundle, two aggregator instances) is stored
and counted once; it is reported as ``duplicate`` so the kiosk can mark it sent.

Local day and hour (for the rollups) come from the kiosk's own clock at the tap, corrected by the
kiosk's clock offset. The offset is the smallest (receive time - kiosk clock at sending) among the
kiosk's recent requests (``observe_clock``): every sample is the true offset plus that request's
network and queue delay, so the smallest is the one with the least delay, and a slow upload is
never taken for clock error. When the request carries no device clock the device time is taken
as it is.

A rating signed with a valid key is never refused for its time (the counting rule, also in the
README's sync section):

- tapped before this kiosk identity was enrolled (a kiosk used before enrolment, or ratings
  carried over by ``kiosk enroll --force``): stored, flagged ``pre_enrollment`` and counted like
  any other, on the local day and hour of its corrected device time;
- corrected device time before CLOCK_FLOOR or more than five minutes in the future: the device
  time cannot be trusted, so the rating is filed at its receive time and flagged
  ``clock_suspect``.

Refused items are kept in ``kiosk_rejections`` with their reason (shown on the fleet page), and
their sequence numbers do not count as gaps.
"""

from __future__ import annotations

import json
import uuid as uuidlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, literal, select, text, union_all
from sqlalchemy.dialects import postgresql, sqlite

from core import protocol
from core.database import begin_write
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
from core.services import rollups
from core.services.kiosks import SKEW_FLAG_S

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
SLACK = timedelta(seconds=300)
INSERT_CHUNK = 500
# No kiosk of this system rated anything before this day: an earlier time is a clock that was
# never set (a device without a battery-backed clock starts in 1970 or 2000).
CLOCK_FLOOR = datetime(2025, 1, 1, tzinfo=UTC)
# Clock samples: the smallest of those taken in the last hour (at most 20) is the offset; a sample
# more than two minutes above it means the kiosk's clock was set back, and starts afresh.
OFFSET_WINDOW_S = 3600
OFFSET_SAMPLES = 20
OFFSET_JUMP_S = 120

# Why an item was refused, in words (the sync API answers them; the fleet page and the kiosk's
# status page show them). "before_kiosk_registered" and "future_device_time" are no longer
# given, but kiosks still hold ratings an older server refused with them.
REASON_WORDS = {
    "not_an_object": _l("The rating is not a JSON object."),
    "invalid_uuid": _l("The rating has no valid identifier (uuid)."),
    "invalid_seq": _l("The rating has no valid sequence number."),
    "invalid_scale": _l("The rating scale must be 3 or 5."),
    "invalid_level": _l("The rating level is not one of the levels of its scale."),
    "invalid_device_time": _l("The rating time is missing or not an ISO 8601 time with a "
                              "time zone."),
    "future_device_time": _l("The rating is dated in the future."),
    "before_kiosk_registered": _l("The rating is dated before the kiosk was registered."),
    "unknown_questionnaire_version": _l("The questionnaire version is not known to the server."),
    "invalid_reasons": _l("The follow-up reasons are not known to the questionnaire."),
    "invalid_misuse": _l("The misuse mark is not a known one."),
    "invalid_officer_code": _l("The officer code is not valid text."),
    "invalid_dossier_code": _l("The dossier code is not valid text."),
    "invalid_procedure_code": _l("The procedure code is not valid text."),
    "repeated_in_batch": _l("The same rating (or sequence number) appears twice in the batch."),
    "seq_conflict": _l("Another rating of this kiosk already has this sequence number."),
    "uuid_conflict": _l("Another kiosk already sent a rating with this identifier."),
}


def reason_words(code: str | None) -> str:
    """A refusal reason in the reader's language (the code itself when unknown)."""
    words = REASON_WORDS.get(code or "")
    return str(words) if words is not None else (code or "")


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
        if value is not None and (not isinstance(value, str) or not value or len(value) > limit):
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


def _accounted(kiosk: Kiosk, above: int):
    """Sequence numbers above ``above`` that this kiosk's ratings used: stored or refused.

    UNION ALL of two index range scans (a number may come twice; callers skip repeats), so a
    LIMIT on it reads only the rows it returns.
    """
    stored = select(KioskRating.seq.label("seq")).where(
        KioskRating.kiosk_id == kiosk.id, KioskRating.seq > above)
    refused = select(KioskRejection.seq.label("seq")).where(
        KioskRejection.kiosk_id == kiosk.id, KioskRejection.seq > above)
    return union_all(stored, refused).subquery()


def _base(kiosk: Kiosk) -> int:
    """The highest number known not to be missing: the contiguous run, at least up to the
    numbers an earlier enrolment of the same device used."""
    return max(kiosk.contiguous_seq or 0, (kiosk.first_seq or 1) - 1)


def _advance_contiguous(kiosk: Kiosk) -> None:
    """Move the highest contiguous sequence number forward over numbers now accounted for
    (stored, or refused with a reason).

    Reads only as many rows as it advances (plus one): a gap stops it at once.
    """
    current = _base(kiosk)
    chunk = 5000
    while True:
        accounted = _accounted(kiosk, current)
        seqs = db.session.scalars(
            select(accounted.c.seq).order_by(accounted.c.seq).limit(chunk)
        ).all()
        for seq in seqs:
            if seq <= current:
                continue
            if seq != current + 1:
                kiosk.contiguous_seq = current
                return
            current = seq
        if len(seqs) < chunk:
            break
    kiosk.contiguous_seq = current


def missing_ranges(kiosk: Kiosk, limit: int = 20) -> list[tuple[int, int]]:
    """Missing sequence ranges (first, last) above the highest contiguous number.

    Numbers below the enrolment's ``first_seq`` belong to the device's previous identity and
    refused numbers are accounted for (the fleet page lists refusals on their own).
    """
    base = _base(kiosk)
    if (kiosk.max_seq or 0) <= base:
        return []
    accounted = _accounted(kiosk, base)
    lagged = (
        select(accounted.c.seq.label("seq"),
               func.lag(accounted.c.seq).over(order_by=accounted.c.seq).label("prev"))
        .subquery()
    )
    prev = func.coalesce(lagged.c.prev, literal(base))
    rows = db.session.execute(
        select(prev, lagged.c.seq)
        .where(lagged.c.seq - prev > 1)
        .order_by(lagged.c.seq).limit(limit)
    ).all()
    return [(int(before) + 1, seq - 1) for before, seq in rows]


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


def observe_clock(kiosk: Kiosk, sample_s: float, now: datetime) -> float:
    """Add one (receive time - kiosk clock at sending) sample; return the kiosk's clock offset.

    Each sample is the true offset plus the request's network and queue delay (never negative),
    so the smallest recent sample is the best estimate, the way NTP keeps the exchange with the
    shortest round trip. A clock set forward lowers the samples and is followed at once; a sample
    more than OFFSET_JUMP_S above the smallest means the clock was set back, and the old samples
    are dropped.
    """
    at = now.timestamp()
    samples = [
        [float(t), float(v)] for t, v in (
            pair for pair in (kiosk.clock_samples or [])
            if isinstance(pair, list) and len(pair) == 2)
        if isinstance(t, int | float) and isinstance(v, int | float)
        and 0 <= at - t <= OFFSET_WINDOW_S
    ]
    if samples and sample_s - min(v for _, v in samples) > OFFSET_JUMP_S:
        samples = []
    samples.append([round(at, 3), round(sample_s, 3)])
    samples = samples[-OFFSET_SAMPLES:]
    kiosk.clock_samples = samples
    return min(v for _, v in samples)


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
    begin_write()
    kiosk = _lock_kiosk(kiosk_id)
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
        _advance_contiguous(kiosk)
    if contact:
        record_contact(kiosk, offset_s, received)
    missing = missing_ranges(kiosk)
    result = IngestResult(
        outcomes=ordered,
        contiguous_seq=kiosk.contiguous_seq, max_seq=kiosk.max_seq, missing=missing,
        clock_offset_s=offset_s,
    )
    db.session.commit()
    return result


def heartbeat(kiosk_id: int, queue_depth: int, oldest_unsent_age_s: int | None,
              app_version: str | None, device_clock: float | None,
              received: datetime | None = None) -> Kiosk:
    """Store what the kiosk reports about its queue and version."""
    now = received or utcnow()
    begin_write()
    kiosk = _lock_kiosk(kiosk_id)
    kiosk.queue_depth = queue_depth
    kiosk.oldest_unsent_age_s = oldest_unsent_age_s
    kiosk.app_version = app_version
    offset = None
    if device_clock is not None:
        offset = observe_clock(kiosk, now.timestamp() - device_clock, now)
    record_contact(kiosk, offset, now)
    db.session.commit()
    return kiosk


# --- Bundles carried by hand (sneakernet) -------------------------------------------------------

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
        raise BundleError("not_a_bundle") from None
    from core.services.kiosks import by_public_id

    kiosk = by_public_id(public_id)
    if kiosk is None:
        raise BundleError("unknown_kiosk")
    import hmac

    keys = kiosk.signing_keys()
    if not any(key and hmac.compare_digest(protocol.sign_bundle(key, body.encode()), given)
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
    from core.services.accounts import audit

    begin_write()
    audit.record("kiosk.bundle_import", user=user, username=None if user else "cli",
                 target_type="kiosk", target_id=public_id, unit_id=kiosk.unit_id,
                 details={"accepted": totals["accepted"], "duplicates": totals["duplicate"],
                          "rejected": totals["rejected"]})
    db.session.commit()
    return BundleResult(name, totals["accepted"], totals["duplicate"], totals["rejected"],
                        reasons)
