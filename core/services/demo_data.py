"""Realistic rating and survey history for the demo organisation, written in bulk.

The generator follows what SIPAS.md says of the real figures: satisfaction near the national
averages (about 84%), weekday and opening-hour rhythms (none on Sundays, half a day on Saturdays,
morning peaks), some units improving and some declining over the history, a little misuse.

It writes ``KioskRating``, ``SurveyResponse`` and ``SurveyAnswer`` rows and, in the SAME
transaction for each chunk, exactly the rollup keys the ingest paths write (CONTRACTS.md,
"Rollups"): so the dashboard over generated data is the dashboard over ingested data. On
PostgreSQL the rows go through COPY and the rollups through a COPY into a temporary table and one
``INSERT ... ON CONFLICT DO UPDATE``; on SQLite through executemany.
"""

from __future__ import annotations

import json
import math
import random
import secrets
import uuid
from collections import Counter as Tally
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, func, insert, select, text

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
from core.questionnaire import load_definition
from core.services import questionnaires
from core.services.demo import seed_demo

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
CHUNK_RATINGS = 200_000

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


def _ensure_places(rng: random.Random) -> tuple[list[_Place], int]:
    created = 0
    fields = dict(db.session.execute(select(ProcedureField.code, ProcedureField.id)).all())
    procs_by_field: dict[int, list[int]] = {}
    for pid, fid in db.session.execute(select(Procedure.id, Procedure.field_id)):
        procs_by_field.setdefault(fid, []).append(pid)
    places = []
    counters = db.session.scalars(
        select(Counter).where(Counter.active.is_(True)).order_by(Counter.id)
    ).all()
    for counter in counters:
        kiosk = db.session.scalar(
            select(Kiosk).where(Kiosk.counter_id == counter.id).order_by(Kiosk.id).limit(1)
        )
        if kiosk is None:
            kiosk = Kiosk(
                public_id=str(uuid.uuid4()),
                unit_id=counter.unit_id, counter_id=counter.id,
                name=f"Kiosk {counter.code}", status="active",
                secret=secrets.token_hex(32), enrolled_at=datetime.now(UTC),
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
) -> GenerationSummary:
    """Generate ``ratings`` kiosk taps and ``responses`` phone surveys over ``months`` months
    ending yesterday (local time), with their rollups. Committed chunk by chunk."""
    if ratings < 0 or responses < 0:
        raise ValueError("ratings and responses must not be negative")
    rng = random.Random(seed)  # noqa: S311  (demo data, reproducible; not a secret)
    seed_demo()
    begin_write()
    places, created = _ensure_places(rng)
    if not places:
        raise ValueError("the organisation has no active counter")
    q_row = questionnaires.ensure_default()
    q = load_definition(q_row.definition)
    db.session.commit()

    today = today or datetime.now(LOCAL_TZ).date()
    last = today - timedelta(days=1)
    first = date(*_back_months(last.year, last.month, months - 1), 1)
    days = _days(first, last)
    writer = _Writer()
    tallies = _Tallies()
    say = progress or (lambda _m: None)

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
    next_response_id = _next_id(SurveyResponse)

    def commit_chunk() -> None:
        nonlocal pending_ratings, pending_responses, pending_answers
        begin_write()
        if writer.pg:
            # Generated history can be regenerated: no need to wait for each chunk's WAL flush.
            db.session.execute(text("SET LOCAL synchronous_commit = off"))
        writer.rows(KioskRating.__table__, RATING_COLS, pending_ratings)
        writer.rows(SurveyResponse.__table__, RESPONSE_COLS, pending_responses)
        writer.rows(SurveyAnswer.__table__, ["response_id", "item_code", "level"],
                    pending_answers)
        tallies.flush(writer)
        for p in places:
            p.kiosk.max_seq = p.next_seq - 1
            p.kiosk.contiguous_seq = p.next_seq - 1
        if writer.pg:
            db.session.execute(text(
                "SELECT setval(pg_get_serial_sequence('survey_responses', 'id'), "
                "GREATEST(:v, 1))"
            ), {"v": next_response_id - 1})
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
                q_row.id, next_response_id, pending_responses, pending_answers, tallies,
            )
            next_response_id += 1
        made_responses += n_resp
        if len(pending_ratings) + 5 * len(pending_responses) >= CHUNK_RATINGS:
            commit_chunk()
            say(f"{day.isoformat()}: {made_ratings} ratings, {made_responses} responses")
    commit_chunk()
    return GenerationSummary(made_ratings, made_responses, made_answers, first, last, created)


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
    dossier = f"{place.unit.id:03d}.{day:%y%m%d}.R{rid:07d}" if channel == "api" else None
    rating_uuid = (_new_uuid()
                   if channel == "kiosk_qr" else None)
    if channel == "kiosk_qr":
        token_key = f"k:{rating_uuid}"
    elif channel == "api":
        token_key = f"d:{place.unit.id}:{dossier}"
    else:
        token_key = f"p:{rid}:{_new_uuid()[:12]}"
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
