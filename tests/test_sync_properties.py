"""Properties of ingest (Hypothesis): sending a batch twice equals once, and any split or order of
batches gives the same stored rows and the same rollup totals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from core.extensions import db
from core.models import Kiosk, KioskRating, RollupCount, RollupHour
from core.services.sync import ingest, registry

REASONS = ["waiting_time", "officer_attitude", "procedures_papers"]
SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def taps(draw, max_size: int = 40):
    """A kiosk's ratings with seq 1..n: levels, reasons, misuse marks, officers, times."""
    n = draw(st.integers(min_value=1, max_value=max_size))
    now = datetime.now(UTC)
    ids = draw(st.lists(st.uuids(version=4), min_size=n, max_size=n, unique=True))
    items = []
    for seq in range(1, n + 1):
        level = draw(st.sampled_from([5, 4, 2]))
        items.append({
            "uuid": str(ids[seq - 1]),
            "seq": seq,
            "scale": 3,
            "level": level,
            "reasons": draw(st.lists(st.sampled_from(REASONS), max_size=2, unique=True))
            if level == 2 else [],
            "officer_code": draw(st.sampled_from([None, "CB001", "CB002", "GHOST"])),
            "misuse": draw(st.sampled_from([None, None, "too_fast"])),
            # Across midnight and the hours, so days and hour cells vary.
            "device_time": (now - timedelta(minutes=draw(st.integers(1, 3000)))).isoformat(),
            "questionnaire_version": 1,
        })
    return items


def fresh_kiosk() -> int:
    """Empty the ingest tables and enroll a new kiosk (created a week ago)."""
    for model in (KioskRating, RollupCount, RollupHour):
        db.session.execute(delete(model))
    db.session.commit()
    done = registry.register(registry.find_counter("T-DEMO-TTHCC", "Q01"), "Property kiosk")
    registry.enroll(done.code)
    kiosk = db.session.get(Kiosk, done.kiosk.id)
    kiosk.created_at = datetime.now(UTC) - timedelta(days=7)
    db.session.commit()
    return kiosk.id


def snapshot() -> tuple:
    rows = sorted(db.session.execute(
        select(KioskRating.uuid, KioskRating.seq, KioskRating.level, KioskRating.local_day,
               KioskRating.local_hour, KioskRating.officer_id)
    ).all())
    counts = sorted(db.session.execute(
        select(RollupCount.unit_id, RollupCount.counter_id, RollupCount.officer_id,
               RollupCount.day, RollupCount.item_code, RollupCount.level, RollupCount.misuse,
               RollupCount.count)
    ).all())
    hours = sorted(db.session.execute(
        select(RollupHour.unit_id, RollupHour.day, RollupHour.hour, RollupHour.misuse,
               RollupHour.total, RollupHour.satisfied)
    ).all())
    return tuple(map(tuple, rows)), tuple(map(tuple, counts)), tuple(map(tuple, hours))


@SETTINGS
@given(items=taps())
def test_ingesting_a_batch_twice_equals_ingesting_it_once(demo, items):
    kiosk_id = fresh_kiosk()
    first = ingest.ingest(kiosk_id, items)
    once = snapshot()
    second = ingest.ingest(kiosk_id, items)
    assert snapshot() == once
    assert {o.status for o in first.outcomes} == {"accepted"}
    assert {o.status for o in second.outcomes} == {"duplicate"}
    assert first.contiguous_seq == second.contiguous_seq == len(items)


@SETTINGS
@given(items=taps(), data=st.data())
def test_any_split_and_order_of_batches_gives_the_same_totals(demo, items, data):
    kiosk_id = fresh_kiosk()
    ingest.ingest(kiosk_id, items)
    expected = snapshot()

    kiosk_id = fresh_kiosk()
    shuffled = data.draw(st.permutations(items))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(items)), max_size=5)))
    bounds = [0, *cuts, len(items)]
    batches = [shuffled[a:b] for a, b in pairwise(bounds)]
    # Some batches arrive twice (a retry after a lost answer).
    repeats = data.draw(st.lists(st.sampled_from(batches), max_size=3))
    last = None
    for batch in [*batches, *repeats]:
        last = ingest.ingest(kiosk_id, batch)
    got = snapshot()
    # The same ratings, the same counts: only the kiosk id differs, which no total depends on.
    assert got[1:] == expected[1:]
    assert [r[:3] for r in got[0]] == [r[:3] for r in expected[0]]
    assert last is not None and last.contiguous_seq == len(items) and last.missing == []
