"""Realistic rating and survey history for the demo organisation, written in bulk.

The generator follows what SIPAS.md says of the real figures: satisfaction near the national
averages (about 84%), weekday and opening-hour rhythms (none on Sundays, half a day on Saturdays,
morning peaks), some units improving and some declining over the history, a little misuse.

It writes ``KioskRating``, ``SurveyResponse`` and ``SurveyAnswer`` rows and, in the SAME
transaction for each chunk, exactly the rollup keys the ingest paths write (docs/DEVELOPING.md,
"Rollups"): so the dashboard over generated data is the dashboard over ingested data. On
PostgreSQL the rows go through COPY and the rollups through a COPY into a temporary table and one
``INSERT ... ON CONFLICT DO UPDATE``; on SQLite through executemany.

The history lives under kiosks of its own, one per counter it fills, marked ``synthetic`` (no
key, never enrollable, not on the fleet page): a real kiosk's sequence numbers and ids are never
taken, so its next genuine taps are accepted. Generated survey responses carry a ``demo:`` token
key so that a later run can find and replace them. A run refuses, before writing anything, what
could collide: a real kiosk holding a reserved id, another run at the same time, or generated
history already in the period (unless asked to append to it, replace it or skip).
"""

from __future__ import annotations

import fcntl
import json
import math
import random
import secrets
import uuid
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, delete, func, insert, select, text, update

from core.database import begin_write
from core.extensions import db
from core.models import (
    RESPONDENTS,
    TAP,
    Counter,
    Kiosk,
    KioskRating,
    Officer,
    Procedure,
    ProcedureField,
    RollupCount,
    RollupDimMonth,
    RollupHour,
    RollupUnitDay,
    RollupUnitMonth,
    SurveyAnswer,
    SurveyResponse,
    Unit,
    UTCDateTime,
)
from core.questionnaire_definition import load_definition
from core.services.demo import seed_demo
from core.services.messages import _
from core.services.survey import questionnaires

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
CHUNK_RATINGS = 200_000
# SQLite has one writer: smaller chunks keep each write lock short beside a live aggregator.
CHUNK_RATINGS_SQLITE = 50_000
# Synthetic kiosks get ids derived from their counter (uuid5), so a rerun finds them and a real
# kiosk can never be mistaken for one; their names carry a reserved prefix.
SYNTHETIC_NAMESPACE = uuid.UUID("5b0c3a52-7d1e-4f0a-9c36-2f6f1d9e0a11")
SYNTHETIC_PREFIX = "[demo history] "
DEMO_TOKEN_PREFIX = "demo:"  # noqa: S105  (a token key prefix, not a password)
EXISTING = ("refuse", "append", "replace", "skip")
# pg_try_advisory_lock key of a running generation ("SIPASDEM").
RUN_LOCK_KEY = 0x5349504153444D

# Share of each weekday's traffic (Monday first): one-stop counters close on Sunday and open
# Saturday mornings only (core/services/demo.py OPENING_HOURS).
WEEKDAY_WEIGHT = (1.0, 0.95, 0.95, 0.9, 1.05, 0.4, 0.0)
# Local hours with their share of the day: queues peak mid-morning and after the lunch break.
HOURS = (7, 8, 9, 10, 11, 13, 14, 15, 16)
HOUR_WEIGHT = (0.35, 1.3, 1.6, 1.4, 0.5, 0.4, 1.2, 1.1, 0.8)
# Fewer dossiers around Tết (late January / February).
MONTH_WEIGHT = {1: 0.85, 2: 0.7, 12: 1.1}

# Units whose satisfaction moves over the history: points per year (our demo story).
TRENDS = {"T-DEMO-X1": 7.0, "T-DEMO-X2": -6.0, "T-DEMO-P1": 1.0, "T-DEMO-TTHCC": 2.5}
BASE = {"T-DEMO-X1": 78.0, "T-DEMO-X2": 88.0, "T-DEMO-P1": 84.0, "T-DEMO-TTHCC": 83.0}
# Element offsets against the unit's level (2024: services 84.09; feedback handling lowest).
ELEMENT_OFFSET = {"TC": 1.0, "TT": 0.5, "CC": 1.5, "KQ": 1.0, "PA": -4.0}
FIELDS_OF_COUNTER = {"Q01": ("HT", "CT", "LLTP"), "Q02": ("DKKD",), "Q03": ("DD",)}

COMMENTS = (
    "Cán bộ hướng dẫn tận tình, thủ tục nhanh gọn.",
    "Phải chờ lâu, đề nghị bố trí thêm quầy vào buổi sáng.",
    "Phòng chờ sạch sẽ, có nước uống. Cảm ơn.",
    "Hồ sơ phải bổ sung hai lần vì hướng dẫn chưa rõ.",
    "Liên hệ lại giúp tôi qua số 0912 345 678 về kết quả hồ sơ.",
    "Nhân viên thân thiện, nhưng máy lấy số hay bị lỗi.",
    "Tôi đã gọi 0283.822.1234 nhiều lần nhưng không ai nghe máy.",
    "CCCD của tôi là 079190001234, đề nghị kiểm tra lại thông tin.",
    "Rất hài lòng với thái độ phục vụ.",
    "Nên có hướng dẫn nộp hồ sơ trực tuyến rõ hơn.",
)


@dataclass
class GenerationSummary:
    ratings: int
    responses: int
    answers: int
    first_day: date
    last_day: date
    kiosks_created: int
    removed_ratings: int = 0
    removed_responses: int = 0
    skipped: bool = False


class Refused(Exception):
    """The run would collide with existing data; nothing was written."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def synthetic_public_id(counter_id: int) -> str:
    return str(uuid.uuid5(SYNTHETIC_NAMESPACE, f"counter:{counter_id}"))


@dataclass
class _Place:
    """A counter with what the generator needs to know about it."""

    counter: Counter
    unit: Unit
    kiosk: Kiosk
    officers: list[int]
    procedures: list[int]
    weight: float
    next_seq: int


def _level_curve(unit_code: str, day: date, first: date, last: date) -> float:
    span = max((last - first).days, 1)
    years = (day - first).days / 365.0
    base = BASE.get(unit_code, 84.0) - TRENDS.get(unit_code, 0.0) * (span / 365.0) / 2
    # A gentle seasonal wave so monthly trends are not straight lines.
    wave = 1.5 * math.sin(2 * math.pi * (day.timetuple().tm_yday / 365.0))
    return min(97.0, max(55.0, base + TRENDS.get(unit_code, 0.0) * years + wave))


def _plan_places() -> list[tuple[Counter, Kiosk | None]]:
    """Each active counter with its synthetic kiosk (None when not made yet). Refuses when a
    real kiosk holds the id reserved for a counter's synthetic kiosk."""
    counters = db.session.scalars(
        select(Counter).where(Counter.active.is_(True)).order_by(Counter.id)
    ).all()
    reserved = {synthetic_public_id(c.id): c for c in counters}
    found = {k.public_id: k for k in db.session.scalars(
        select(Kiosk).where(Kiosk.public_id.in_(list(reserved)))
    )}
    for public_id, kiosk in found.items():
        if not kiosk.synthetic or kiosk.counter_id != reserved[public_id].id:
            raise Refused("reserved_id", _(
                "Kiosk %(kiosk)s is a real kiosk but holds an id reserved for demo history; "
                "nothing was generated.", kiosk=public_id))
    return [(c, found.get(synthetic_public_id(c.id))) for c in counters]


def _ensure_places(plan: list[tuple[Counter, Kiosk | None]]) -> tuple[list[_Place], int]:
    created = 0
    fields = dict(db.session.execute(select(ProcedureField.code, ProcedureField.id)).all())
    procs_by_field: dict[int, list[int]] = {}
    for pid, fid in db.session.execute(select(Procedure.id, Procedure.field_id)):
        procs_by_field.setdefault(fid, []).append(pid)
    places = []
    for counter, kiosk in plan:
        if kiosk is None:
            # No key and no enrollment code: nothing can ever sign in as this kiosk.
            kiosk = Kiosk(
                public_id=synthetic_public_id(counter.id),
                unit_id=counter.unit_id, counter_id=counter.id,
                name=f"{SYNTHETIC_PREFIX}{counter.code}", status="revoked", synthetic=True,
                secret=None,
            )
            db.session.add(kiosk)
            db.session.flush()
            created += 1
        officers = list(db.session.scalars(
            select(Officer.id).where(Officer.counter_id == counter.id, Officer.active.is_(True))
        ))
        codes = FIELDS_OF_COUNTER.get(counter.code, ("HT", "CT"))
        if counter.unit.level != "service_centre":
            codes = ("HT", "CT")
        procedures = [p for code in codes for p in procs_by_field.get(fields.get(code), [])]
        last_seq = db.session.scalar(
            select(func.max(KioskRating.seq)).where(KioskRating.kiosk_id == kiosk.id)
        ) or 0
        weight = 1.4 if counter.unit.level == "service_centre" else 1.0
        places.append(_Place(counter, counter.unit, kiosk, officers, procedures, weight,
                             last_seq + 1))
    return places, created


def _days(first: date, last: date) -> list[tuple[date, float]]:
    out = []
    day = first
    while day <= last:
        w = WEEKDAY_WEIGHT[day.weekday()] * MONTH_WEIGHT.get(day.month, 1.0)
        if w > 0:
            out.append((day, w))
        day += timedelta(days=1)
    return out


def _spread(total: int, days: list[tuple[date, float]]) -> list[int]:
    """Split a total over days by weight, exactly (largest remainders)."""
    whole = sum(w for _, w in days)
    raw = [total * w / whole for _, w in days]
    counts = [int(x) for x in raw]
    rest = total - sum(counts)
    order = sorted(range(len(raw)), key=lambda i: raw[i] - counts[i], reverse=True)
    for i in order[:rest]:
        counts[i] += 1
    return counts


def _local(day: date, hour: int, minute: int, second: int) -> datetime:
    return datetime.combine(day, time(hour, minute, second), LOCAL_TZ).astimezone(UTC)


class _Writer:
    """Bulk writes of rows and rollup tallies in the current transaction."""

    def __init__(self) -> None:
        self.pg = db.session.get_bind().dialect.name == "postgresql"

    def rows(self, table, columns: list[str], rows: list[tuple], name: str | None = None) -> None:
        """Insert rows of Python values (aware datetimes, lists for JSON columns)."""
        if not rows:
            return
        if not self.pg:
            db.session.execute(insert(table), [dict(zip(columns, r, strict=True)) for r in rows])
            return
        convert = [_pg_converter(table.c[c].type) for c in columns]
        raw = db.session.connection().connection.driver_connection
        with raw.cursor() as cur, cur.copy(
            f"COPY {name or table.name} ({', '.join(columns)}) FROM STDIN"
        ) as copy:
            if any(convert):
                for row in rows:
                    copy.write_row([v if f is None or v is None else f(v)
                                    for f, v in zip(convert, row, strict=True)])
            else:
                for row in rows:
                    copy.write_row(row)

    def upsert(self, table, key_cols: list[str], add_cols: list[str], rows: list[tuple]) -> None:
        """Add counts to rollup cells: rows are key values then the counts to add."""
        if not rows:
            return
        columns = key_cols + add_cols
        if self.pg:
            tmp = f"tmp_{table.name}"
            # Names come from the model metadata, never from input.
            db.session.execute(text(
                f"CREATE TEMP TABLE IF NOT EXISTS {tmp} (LIKE {table.name}) ON COMMIT DELETE ROWS"
            ))
            self.rows(table, columns, rows, name=tmp)
            updates = ", ".join(f"{c} = {table.name}.{c} + excluded.{c}" for c in add_cols)
            names = ", ".join(columns)
            upsert = (
                f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {tmp} "  # noqa: S608
                f"ON CONFLICT ({', '.join(key_cols)}) DO UPDATE SET {updates}"
            )
            db.session.execute(text(upsert))
            db.session.execute(text(f"DELETE FROM {tmp}"))  # noqa: S608
            return
        from sqlalchemy.dialects import sqlite

        stmt = sqlite.insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=key_cols,
            set_={c: table.c[c] + stmt.excluded[c] for c in add_cols},
        )
        db.session.execute(stmt, [dict(zip(columns, r, strict=True)) for r in rows])


def _pg_converter(column_type) -> Callable | None:
    # COPY takes text: JSON columns as JSON text, UTC columns as naive UTC (models/types.py).
    if isinstance(column_type, UTCDateTime):
        return lambda v: v.astimezone(UTC).replace(tzinfo=None)
    if isinstance(column_type, JSON):
        return json.dumps
    return None


FINE_KEYS = ["unit_id", "counter_id", "officer_id", "procedure_id", "day", "channel",
             "item_code", "level", "misuse"]
COARSE_KEYS = ["unit_id", "day", "channel", "item_code", "level", "misuse"]
MONTH_KEYS = ["unit_id", "month", "channel", "item_code", "level", "misuse"]
DIM_MONTH_KEYS = ["unit_id", "counter_id", "procedure_id", "month", "channel", "item_code",
                  "level", "misuse"]
RATING_COLS = ["uuid", "kiosk_id", "seq", "unit_id", "counter_id", "officer_id", "procedure_id",
               "dossier_code", "scale", "level", "reasons", "misuse", "questionnaire_version",
               "device_time", "received_at", "local_day", "local_hour", "extra"]
RESPONSE_COLS = ["id", "token_key", "channel", "questionnaire_id", "unit_id", "counter_id",
                 "officer_id", "procedure_id", "dossier_code", "kiosk_rating_uuid", "trips",
                 "harassment", "informal_payment", "submission_channel", "priorities", "comment",
                 "comment_hidden", "comment_flagged", "misuse", "locale", "submitted_at",
                 "local_day"]


class _Tallies:
    def __init__(self) -> None:
        self.fine: Tally[tuple] = Tally()
        self.hours: Tally[tuple] = Tally()
        self.hours_sat: Tally[tuple] = Tally()

    def flush(self, writer: _Writer) -> None:
        coarse: Tally[tuple] = Tally()
        months: Tally[tuple] = Tally()
        dim_months: Tally[tuple] = Tally()
        for (u, c, _o, p, d, ch, item, lv, m), n in self.fine.items():
            coarse[(u, d, ch, item, lv, m)] += n
            months[(u, d.replace(day=1), ch, item, lv, m)] += n
            dim_months[(u, c, p, d.replace(day=1), ch, item, lv, m)] += n
        writer.upsert(RollupCount.__table__, FINE_KEYS, ["count"],
                      [(*k, n) for k, n in sorted(self.fine.items())])
        writer.upsert(RollupUnitDay.__table__, COARSE_KEYS, ["count"],
                      [(*k, n) for k, n in sorted(coarse.items())])
        writer.upsert(RollupUnitMonth.__table__, MONTH_KEYS, ["count"],
                      [(*k, n) for k, n in sorted(months.items())])
        writer.upsert(RollupDimMonth.__table__, DIM_MONTH_KEYS, ["count"],
                      [(*k, n) for k, n in sorted(dim_months.items())])
        writer.upsert(RollupHour.__table__, ["unit_id", "day", "hour", "misuse"],
                      ["total", "satisfied"],
                      [(*k, n, self.hours_sat[k]) for k, n in sorted(self.hours.items())])
        self.__init__()


def generate(
    ratings: int,
    responses: int,
    months: int = 24,
    seed: int = 2026,
    today: date | None = None,
    progress: Callable[[str], None] | None = None,
    existing: str = "refuse",
) -> GenerationSummary:
    """Generate ``ratings`` kiosk taps and ``responses`` phone surveys over ``months`` months
    ending yesterday (local time), with their rollups, under synthetic kiosks. Committed chunk
    by chunk.

    ``existing`` says what to do when generated history is already in the period: ``refuse``
    (raise :class:`Refused`, writing nothing), ``append`` (add to it), ``replace`` (remove it and
    its rollup counts first, in the same transaction as the first chunk) or ``skip`` (generate
    nothing). A second run at the same time is refused in every mode.
    """
    if ratings < 0 or responses < 0:
        raise ValueError("ratings and responses must not be negative")
    if existing not in EXISTING:
        raise ValueError(f"existing must be one of {', '.join(EXISTING)}")
    today = today or datetime.now(LOCAL_TZ).date()
    last = today - timedelta(days=1)
    first = date(*_back_months(last.year, last.month, months - 1), 1)
    with _run_lock():
        seed_demo()
        db.session.commit()
        plan = _plan_places()
        if not plan:
            raise ValueError("the organisation has no active counter")
        have_ratings, have_responses = _synthetic_history(
            [k.id for _c, k in plan if k is not None], first, last)
        if have_ratings or have_responses:
            if existing == "skip":
                db.session.rollback()
                return GenerationSummary(0, 0, 0, first, last, 0, skipped=True)
            if existing == "refuse":
                db.session.rollback()
                raise Refused("history_exists", _(
                    "Demo history is already there from %(first)s to %(last)s (%(ratings)s "
                    "ratings, %(responses)s responses); nothing was generated. Ask to append "
                    "or replace.", first=first.isoformat(), last=last.isoformat(),
                    ratings=have_ratings, responses=have_responses))
        summary = _generate(ratings, responses, first, last, seed, progress, plan,
                            replace=existing == "replace")
        _analyze()
        return summary


@contextmanager
def _run_lock() -> Iterator[None]:
    """Hold the lock that makes a second generation at the same time fail fast."""
    engine = db.engine
    if engine.dialect.name == "postgresql":
        conn = engine.connect()
        try:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": RUN_LOCK_KEY})
            held = bool(got.scalar())
            conn.commit()
            if not held:
                raise Refused("busy", _("Demo history is being generated by another run; "
                                        "nothing was generated."))
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": RUN_LOCK_KEY})
                conn.commit()
        finally:
            conn.close()
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield  # a private in-memory database: no other process can reach it
        return
    with open(f"{database}.demo-data.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Refused("busy", _("Demo history is being generated by another run; "
                                    "nothing was generated.")) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _synthetic_history(kiosk_ids: list[int], first: date, last: date) -> tuple[int, int]:
    """How many generated ratings and responses are already in the period."""
    have = db.session.scalar(
        select(func.count()).select_from(KioskRating)
        .where(KioskRating.kiosk_id.in_(kiosk_ids), KioskRating.local_day >= first,
               KioskRating.local_day <= last)
    ) if kiosk_ids else 0
    have_r = db.session.scalar(
        select(func.count()).select_from(SurveyResponse)
        .where(SurveyResponse.token_key.startswith(DEMO_TOKEN_PREFIX, autoescape=True),
               SurveyResponse.local_day >= first, SurveyResponse.local_day <= last)
    )
    return int(have or 0), int(have_r or 0)


def _analyze() -> None:
    """Refresh the planner's statistics after a bulk load (both backends)."""
    begin_write()
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text(
            "ANALYZE kiosks, kiosk_ratings, survey_responses, survey_answers, rollup_counts, "
            "rollup_unit_days, rollup_unit_months, rollup_dim_months, rollup_hours"
        ))
    else:
        # A bounded sample per index keeps ANALYZE quick on a large file.
        db.session.execute(text("PRAGMA analysis_limit = 1000"))
        db.session.execute(text("ANALYZE"))
    db.session.commit()


def _generate(ratings: int, responses: int, first: date, last: date, seed: int,
              progress: Callable[[str], None] | None,
              plan: list[tuple[Counter, Kiosk | None]], replace: bool) -> GenerationSummary:
    rng = random.Random(seed)  # noqa: S311  (demo data, reproducible; not a secret)
    q_row = questionnaires.ensure_default()
    q = load_definition(q_row.definition)
    begin_write()
    places, created = _ensure_places(plan)
    writer = _Writer()
    tallies = _Tallies()
    removed = (0, 0)
    if replace:
        perception_codes = {p.code for p in q.perception}
        removed = _remove_history([p.kiosk.id for p in places], first, last, perception_codes,
                                  tallies)
        for p in places:
            p.next_seq = (db.session.scalar(
                select(func.max(KioskRating.seq)).where(KioskRating.kiosk_id == p.kiosk.id)
            ) or 0) + 1
    # The synthetic kiosks (and a replaced history's removal) commit with the first chunk.

    days = _days(first, last)
    say = progress or (lambda _m: None)
    chunk = CHUNK_RATINGS if writer.pg else CHUNK_RATINGS_SQLITE

    rating_days = _spread(ratings, days)
    response_days = _spread(responses, days)
    place_weights = [p.weight for p in places]
    hours_cum = list(_cumulative(HOUR_WEIGHT))
    reasons = [r.code for r in q.followup_reasons]
    elements = [(e.code, [i.code for i in e.items]) for e in q.elements]
    perception = {p.code: p for p in q.perception}
    officer_effect = {oid: rng.uniform(-4, 4) for p in places for oid in p.officers}

    pending_ratings: list[tuple] = []
    pending_responses: list[tuple] = []
    pending_answers: list[tuple] = []
    made_ratings = made_responses = made_answers = 0
    dropped: list[bool] = []

    def commit_chunk() -> None:
        nonlocal pending_ratings, pending_responses, pending_answers
        begin_write()
        if writer.pg:
            # Generated history can be regenerated: no need to wait for each chunk's WAL flush.
            db.session.execute(text("SET LOCAL synchronous_commit = off"))
        writer.rows(KioskRating.__table__, RATING_COLS, pending_ratings)
        # Response ids are taken only now, inside this write unit, so a survey submitted on a
        # live aggregator between two chunks can never be given the same id.
        ids = _response_ids(len(pending_responses), writer.pg)
        writer.rows(SurveyResponse.__table__, RESPONSE_COLS,
                    [(ids[r[0]], *r[1:]) for r in pending_responses])
        writer.rows(SurveyAnswer.__table__, ["response_id", "item_code", "level"],
                    [(ids[r], item, level) for r, item, level in pending_answers])
        tallies.flush(writer)
        if removed != (0, 0) and not dropped:
            # The removed history's negative counts went out with this first chunk.
            _drop_empty_cells()
            dropped.append(True)
        for p in places:
            db.session.execute(
                update(Kiosk).where(Kiosk.id == p.kiosk.id)
                .values(max_seq=p.next_seq - 1, contiguous_seq=p.next_seq - 1)
            )
        db.session.commit()
        pending_ratings, pending_responses, pending_answers = [], [], []

    for (day, _w), n_taps, n_resp in zip(days, rating_days, response_days, strict=True):
        weekday_hours = HOURS[:5] if day.weekday() == 5 else HOURS
        cum = hours_cum[: len(weekday_hours)]
        # --- kiosk taps, in time order per kiosk so sequence numbers follow the clock
        taps = []
        for place in rng.choices(places, weights=place_weights, k=n_taps):
            hour = rng.choices(weekday_hours, cum_weights=cum)[0]
            minute = rng.randrange(30, 60) if hour in (7, 13) else rng.randrange(60)
            if hour == 11:
                minute = rng.randrange(30)
            taps.append((place.counter.id, hour, minute, rng.randrange(60), place))
        taps.sort(key=lambda t: t[:4])
        for _cid, hour, minute, second, place in taps:
            _tap(rng, place, day, hour, minute, second, first, last, officer_effect, reasons,
                 q_row.version, pending_ratings, tallies)
        made_ratings += n_taps
        # --- phone surveys
        for place in rng.choices(places, weights=place_weights, k=n_resp):
            hour = rng.choices(weekday_hours, cum_weights=cum)[0]
            made_answers += _response(
                rng, place, day, hour, first, last, officer_effect, elements, perception,
                q_row.id, len(pending_responses), pending_responses, pending_answers, tallies,
            )
        made_responses += n_resp
        if len(pending_ratings) + 5 * len(pending_responses) >= chunk:
            commit_chunk()
            say(f"{day.isoformat()}: {made_ratings} ratings, {made_responses} responses")
    commit_chunk()
    return GenerationSummary(made_ratings, made_responses, made_answers, first, last, created,
                             removed_ratings=removed[0], removed_responses=removed[1])


def _response_ids(n: int, pg: bool) -> list[int]:
    """``n`` fresh survey response ids, taken in the current write unit."""
    if n == 0:
        return []
    if pg:
        # nextval hands out each value once, whoever else is inserting at the same time.
        return list(db.session.scalars(text(
            "SELECT nextval(pg_get_serial_sequence('survey_responses', 'id')) "
            "FROM generate_series(1, :n)"
        ), {"n": n}))
    # SQLite: this write unit holds the only write lock until it commits.
    start = _next_id(SurveyResponse)
    return list(range(start, start + n))


def _remove_history(kiosk_ids: list[int], first: date, last: date, perception: set[str],
                    t: _Tallies) -> tuple[int, int]:
    """Delete the generated ratings and responses of the period and take their counts out of
    the rollups (as negative tallies flushed with the next chunk)."""
    kr = KioskRating
    in_period = (kr.kiosk_id.in_(kiosk_ids), kr.local_day >= first, kr.local_day <= last)
    n_ratings = 0
    for u, c, o, p, d, h, level, reasons, misuse in db.session.execute(select(
        kr.unit_id, kr.counter_id, kr.officer_id, kr.procedure_id, kr.local_day, kr.local_hour,
        kr.level, kr.reasons, kr.misuse,
    ).where(*in_period)):
        flagged = misuse is not None
        dims = (u, c or 0, o or 0, p or 0, d, "kiosk")
        t.fine[(*dims, TAP, level, flagged)] -= 1
        for code in reasons or ():
            t.fine[(*dims, f"reason:{code}", 0, flagged)] -= 1
        t.hours[(u, d, h, flagged)] -= 1
        t.hours_sat[(u, d, h, flagged)] -= int(level >= 4)
        n_ratings += 1
    db.session.execute(delete(kr).where(*in_period))

    sr = SurveyResponse
    generated = (sr.token_key.startswith(DEMO_TOKEN_PREFIX, autoescape=True),
                 sr.local_day >= first, sr.local_day <= last)
    dims_of: dict[int, tuple[tuple, bool]] = {}
    for rid, u, c, o, p, d, ch, misuse, trips, harassment, informal, submission, prios in (
        db.session.execute(select(
            sr.id, sr.unit_id, sr.counter_id, sr.officer_id, sr.procedure_id, sr.local_day,
            sr.channel, sr.misuse, sr.trips, sr.harassment, sr.informal_payment,
            sr.submission_channel, sr.priorities,
        ).where(*generated))
    ):
        flagged = misuse is not None
        dims = (u, c or 0, o or 0, p or 0, d, ch)
        dims_of[rid] = (dims, flagged)
        t.fine[(*dims, RESPONDENTS, 0, flagged)] -= 1
        for code, value in (("trips", trips), ("harassment", harassment),
                            ("informal_payment", informal), ("channel", submission)):
            if code in perception and value is not None:
                t.fine[(*dims, f"{code}:{value}", 0, flagged)] -= 1
        for code in prios or ():
            t.fine[(*dims, f"priorities:{code}", 0, flagged)] -= 1
    chosen = select(sr.id).where(*generated)
    for rid, item, level in db.session.execute(
        select(SurveyAnswer.response_id, SurveyAnswer.item_code, SurveyAnswer.level)
        .where(SurveyAnswer.response_id.in_(chosen))
    ):
        dims, flagged = dims_of[rid]
        t.fine[(*dims, item, level, flagged)] -= 1
    db.session.execute(delete(SurveyAnswer).where(SurveyAnswer.response_id.in_(chosen)))
    db.session.execute(delete(sr).where(*generated))
    return n_ratings, len(dims_of)


def _drop_empty_cells() -> None:
    """Cells brought to zero by a replaced history go, as if never written."""
    for model in (RollupCount, RollupUnitDay, RollupUnitMonth, RollupDimMonth):
        db.session.execute(delete(model).where(model.count == 0))
    db.session.execute(delete(RollupHour).where(RollupHour.total == 0))


def _back_months(year: int, month: int, by: int) -> tuple[int, int]:
    index = year * 12 + month - 1 - by
    return index // 12, index % 12 + 1


def _cumulative(weights: Iterable[float]) -> Iterable[float]:
    total = 0.0
    for w in weights:
        total += w
        yield total


def _next_id(model) -> int:
    return (db.session.scalar(select(func.max(model.id))) or 0) + 1


def _tap(rng, place: _Place, day, hour, minute, second, first, last, officer_effect, reasons,
         q_version, out: list[tuple], t: _Tallies) -> None:
    officer = rng.choice(place.officers) if place.officers and rng.random() < 0.85 else None
    procedure = (rng.choice(place.procedures)
                 if place.procedures and rng.random() < 0.85 else None)
    p = _level_curve(place.unit.code, day, first, last) + officer_effect.get(officer, 0.0)
    if hour >= 16:
        p -= 3.0  # late-afternoon queues
    satisfied = rng.random() * 100 < p
    if place.counter.scale == 3:
        level = (5 if rng.random() < 0.55 else 4) if satisfied else 2
    else:
        level = (5 if rng.random() < 0.5 else 4) if satisfied else rng.choices(
            (3, 2, 1), weights=(60, 30, 10))[0]
    misuse = "too_fast" if rng.random() < 0.02 else None
    chosen: list[str] = []
    if level < 4 and misuse is None and rng.random() < 0.75:
        chosen = rng.sample(reasons, k=rng.choice((1, 1, 2)))
    device = _local(day, hour, minute, second)
    received = device + timedelta(seconds=rng.randrange(1, 120))
    seq = place.next_seq
    place.next_seq += 1
    dossier = f"{place.unit.id:03d}.{day:%y%m%d}.{seq:07d}" if procedure else None
    out.append((
        _new_uuid(), place.kiosk.id, seq, place.unit.id,
        place.counter.id, officer, procedure, dossier, place.counter.scale, level,
        chosen or None, misuse, q_version, device, received, day, hour, None,
    ))
    flagged = misuse is not None
    dims = (place.unit.id, place.counter.id, officer or 0, procedure or 0, day, "kiosk")
    t.fine[(*dims, TAP, level, flagged)] += 1
    for code in chosen:
        t.fine[(*dims, f"reason:{code}", 0, flagged)] += 1
    t.hours[(place.unit.id, day, hour, flagged)] += 1
    t.hours_sat[(place.unit.id, day, hour, flagged)] += int(level >= 4)


# Identifiers come from their own generator seeded from the OS: the history is reproducible
# from --seed, but running the command twice must never repeat a rating's uuid.
_IDS = random.Random(secrets.randbits(64))  # noqa: S311  (identifiers, not secrets)


def _new_uuid() -> str:
    return str(uuid.UUID(int=_IDS.getrandbits(128), version=4))


def _pick(rng, options: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


def _response(rng, place: _Place, day, hour, first, last, officer_effect, elements, perception,
              questionnaire_id, rid, responses: list[tuple], answers: list[tuple],
              t: _Tallies) -> int:
    channel = _pick(rng, (("kiosk_qr", 45), ("poster", 35), ("api", 20)))
    officer = (rng.choice(place.officers)
               if channel == "kiosk_qr" and place.officers and rng.random() < 0.85 else None)
    procedure = (rng.choice(place.procedures)
                 if channel != "poster" and place.procedures and rng.random() < 0.8 else None)
    # ``rid`` is the response's index in its chunk (its id is taken when the chunk is written).
    dossier = (f"{place.unit.id:03d}.{day:%y%m%d}.R{_new_uuid()[24:]}"
               if channel == "api" else None)
    rating_uuid = (_new_uuid()
                   if channel == "kiosk_qr" else None)
    if channel == "kiosk_qr":
        token_key = f"{DEMO_TOKEN_PREFIX}k:{rating_uuid}"
    elif channel == "api":
        token_key = f"{DEMO_TOKEN_PREFIX}d:{place.unit.id}:{dossier}"
    else:
        token_key = f"{DEMO_TOKEN_PREFIX}p:{_new_uuid()}"
    misuse = "rate_limited" if channel == "poster" and rng.random() < 0.01 else None
    flagged = misuse is not None
    base = _level_curve(place.unit.code, day, first, last) + officer_effect.get(officer, 0.0) / 2
    dims = (place.unit.id, place.counter.id, officer or 0, procedure or 0, day, channel)
    t.fine[(*dims, RESPONDENTS, 0, flagged)] += 1
    written = 0
    for element, items in elements:
        p = base + ELEMENT_OFFSET.get(element, 0.0)
        no_opinion = 0.15 if element == "PA" else 0.03
        for item in items:
            if rng.random() < no_opinion:
                level = 0
            elif rng.random() * 100 < p:
                level = 5 if rng.random() < 0.45 else 4
            else:
                level = rng.choices((3, 2, 1), weights=(65, 27, 8))[0]
            answers.append((rid, item, level))
            t.fine[(*dims, item, level, flagged)] += 1
            written += 1
    trips = _pick(rng, (("1", 78), ("2", 15), ("3", 5), ("4plus", 2)))
    harassment = _pick(rng, (("none", 94), ("some", 5), ("much", 1)))
    informal = _pick(rng, (("no", 97), ("yes", 3)))
    submission = _pick(rng, (("in_person", 70), ("post", 5), ("online", 25)))
    prio_codes = perception["priorities"].option_codes() if "priorities" in perception else ()
    priorities = rng.sample(prio_codes, k=rng.choice((1, 2, 3))) if prio_codes else []
    for code, value in (("trips", trips), ("harassment", harassment),
                        ("informal_payment", informal), ("channel", submission)):
        if code in perception:
            t.fine[(*dims, f"{code}:{value}", 0, flagged)] += 1
    for code in priorities:
        t.fine[(*dims, f"priorities:{code}", 0, flagged)] += 1
    comment = rng.choice(COMMENTS) if rng.random() < 0.08 else None
    submitted = _local(day, hour, rng.randrange(60), rng.randrange(60)) + timedelta(hours=2)
    local_day = submitted.astimezone(LOCAL_TZ).date()
    if local_day != day:
        submitted = _local(day, 17, 59, 0)
    responses.append((
        rid, token_key, channel, questionnaire_id, place.unit.id, place.counter.id, officer,
        procedure, dossier, rating_uuid, trips, harassment, informal, submission,
        priorities, comment, False, False, misuse,
        "vi" if rng.random() < 0.95 else "en", submitted, day,
    ))
    return written
