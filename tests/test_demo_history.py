"""Demo history (`flask demo-data`) lives under synthetic kiosks of its own: a real kiosk keeps its
sequence numbers, so its next genuine taps are accepted, and a run that could collide with
anything changes nothing."""

from __future__ import annotations

import fcntl
from collections import Counter as Tally
from datetime import date

import pytest
from sqlalchemy import create_engine, func, select, text

from core.extensions import db
from core.models import (
    Counter,
    Kiosk,
    KioskRating,
    RollupCount,
    RollupDimMonth,
    RollupHour,
    RollupUnitDay,
    RollupUnitMonth,
    SurveyAnswer,
    SurveyResponse,
    User,
)
from core.services.sync import fleet, registry
from demo import history as demo_data
from tests.support.sync_helpers import enrolled, push, rating
from tests.test_dashboard_rollups import (
    coarse_matches_fine,
    dim_months_match_fine,
    fine_cells,
    raw_survey,
    raw_taps,
)

TODAY = date(2026, 12, 1)
TABLES = (Kiosk, KioskRating, SurveyResponse, SurveyAnswer, RollupCount, RollupUnitDay,
          RollupUnitMonth, RollupDimMonth, RollupHour)


def snapshot() -> dict[str, object]:
    """Row counts and every rollup total: what a refused run must leave as it was."""
    db.session.expire_all()
    counts = {m.__tablename__: db.session.scalar(select(func.count()).select_from(m))
              for m in TABLES}
    totals = {m.__tablename__: db.session.scalar(select(func.coalesce(func.sum(m.count), 0)))
              for m in (RollupCount, RollupUnitDay, RollupUnitMonth, RollupDimMonth)}
    seqs = dict(db.session.execute(select(Kiosk.public_id, Kiosk.max_seq)).all())
    return {"counts": counts, "totals": totals, "seqs": seqs}


def rollups_equal_raw_rows() -> None:
    taps, reasons, hours, hours_sat = raw_taps()
    assert fine_cells(RollupCount.item_code == "TAP") == taps
    assert fine_cells(RollupCount.item_code.startswith("reason:")) == reasons
    assert fine_cells(RollupCount.channel != "kiosk") == raw_survey()
    h = RollupHour
    stored = {(u, d, hr, m): (t, s) for u, d, hr, m, t, s in db.session.execute(
        select(h.unit_id, h.day, h.hour, h.misuse, h.total, h.satisfied))}
    assert stored == {k: (n, hours_sat[k]) for k, n in hours.items()}
    coarse_matches_fine()
    dim_months_match_fine()


def test_a_real_kiosk_keeps_its_sequence_and_its_next_taps_are_accepted(demo, client):
    creds = enrolled(client)
    # A revoked kiosk at another counter: the old generator wrote under it too.
    revoked = registry.register(registry.find_counter("T-DEMO-TTHCC", "Q02"), "Kiosk cũ")
    registry.revoke(revoked.kiosk)
    db.session.commit()
    first = push(client, creds, [rating(seq) for seq in (1, 2, 3)]).get_json()
    assert [r["status"] for r in first["results"]] == ["accepted"] * 3

    summary = demo_data.generate(1200, 100, months=3, seed=4, today=TODAY)
    assert summary.ratings == 1200

    real = registry.by_public_id(creds.kiosk_id)
    assert real is not None and not real.synthetic and real.max_seq == 3
    assert db.session.scalar(select(func.count()).select_from(KioskRating)
                             .where(KioskRating.kiosk_id == real.id)) == 3
    assert db.session.scalar(select(func.count()).select_from(KioskRating)
                             .where(KioskRating.kiosk_id == revoked.kiosk.id)) == 0
    following = push(client, creds, [rating(seq) for seq in (4, 5, 6)]).get_json()
    assert [r["status"] for r in following["results"]] == ["accepted"] * 3
    assert registry.by_public_id(creds.kiosk_id).max_seq == 6


def test_the_history_has_one_synthetic_kiosk_per_counter_that_no_one_can_use(demo, client):
    demo_data.generate(600, 60, months=2, seed=3, today=TODAY)
    counters = db.session.scalars(select(Counter.id).where(Counter.active.is_(True))).all()
    synthetic = db.session.scalars(select(Kiosk).where(Kiosk.synthetic.is_(True))).all()
    assert sorted(k.counter_id for k in synthetic) == sorted(counters)
    assert {k.counter_id: k.public_id for k in synthetic} == {
        c: demo_data.synthetic_public_id(c) for c in counters}
    for kiosk in synthetic:
        assert kiosk.secret is None and kiosk.enrollment_code_hash is None
        assert kiosk.status == "revoked" and kiosk.name.startswith(demo_data.SYNTHETIC_PREFIX)
        assert kiosk.max_seq == db.session.scalar(
            select(func.count()).select_from(KioskRating).where(KioskRating.kiosk_id == kiosk.id))
    # Every generated rating is under a synthetic kiosk, and the figures count them.
    assert db.session.scalar(select(func.count()).select_from(KioskRating).join(Kiosk)
                             .where(Kiosk.synthetic.is_(False))) == 0
    assert db.session.scalar(select(func.sum(RollupCount.count))
                             .where(RollupCount.item_code == "TAP")) == 600
    # Not a device: not on the fleet page, no admin page, no request signed as it.
    admin = User(username="fleet.admin", role="admin", password_hash="x", full_name="A")
    db.session.add(admin)
    db.session.commit()
    assert all(not row.kiosk.synthetic for row in fleet.fleet(admin).rows)
    from werkzeug.exceptions import NotFound

    with pytest.raises(NotFound):
        registry.kiosk_for(admin, synthetic[0].public_id)
    response = client.post("/api/v1/sync/enroll", json={"code": "ABCD-EFGH"})
    assert response.status_code == 400


def test_a_second_run_over_the_same_period_is_refused_and_changes_nothing(demo, runner):
    args = ["demo-data", "--ratings", "400", "--responses", "40", "--months", "2"]
    assert runner.invoke(args=args).exit_code == 0
    before = snapshot()
    refused = runner.invoke(args=args)
    assert refused.exit_code != 0 and "nothing was generated" in refused.output
    assert snapshot() == before
    skipped = runner.invoke(args=[*args, "--existing", "skip"])
    assert skipped.exit_code == 0 and "nothing generated" in skipped.output
    assert snapshot() == before


def test_a_real_kiosk_holding_a_reserved_id_is_refused_and_nothing_changes(demo):
    counter = db.session.scalar(select(Counter).order_by(Counter.id))
    db.session.add(Kiosk(public_id=demo_data.synthetic_public_id(counter.id),
                         unit_id=counter.unit_id, counter_id=counter.id, name="Kiosk thật",
                         status="active", secret="s" * 43))
    db.session.commit()
    before = snapshot()
    with pytest.raises(demo_data.Refused) as refused:
        demo_data.generate(300, 30, months=1, seed=1, today=TODAY)
    assert refused.value.code == "reserved_id"
    assert snapshot() == before


def test_a_run_while_another_is_generating_is_refused_and_changes_nothing(demo):
    before = snapshot()
    engine = db.engine
    if engine.dialect.name == "postgresql":
        holder = create_engine(engine.url.render_as_string(hide_password=False))
        other = holder.connect()
        other.execute(text("SELECT pg_advisory_lock(:k)"), {"k": demo_data.RUN_LOCK_KEY})
        other.commit()

        def release() -> None:  # the other run ends: its session closes
            other.close()
            holder.dispose()
    else:
        handle = open(f"{engine.url.database}.demo-data.lock", "a")  # noqa: SIM115
        fcntl.flock(handle, fcntl.LOCK_EX)
        release = handle.close
    try:
        with pytest.raises(demo_data.Refused) as refused:
            demo_data.generate(300, 30, months=1, seed=1, today=TODAY)
    finally:
        release()
    assert refused.value.code == "busy"
    assert snapshot() == before
    assert demo_data.generate(300, 30, months=1, seed=1, today=TODAY).ratings == 300


def test_replacing_the_history_takes_the_old_counts_out_of_every_rollup(demo, client):
    creds = enrolled(client)
    push(client, creds, [rating(seq) for seq in (1, 2)])
    demo_data.generate(900, 90, months=2, seed=5, today=TODAY)
    summary = demo_data.generate(500, 50, months=2, seed=6, today=TODAY, existing="replace")
    assert (summary.removed_ratings, summary.removed_responses) == (900, 90)
    synthetic = select(Kiosk.id).where(Kiosk.synthetic.is_(True))
    assert db.session.scalar(select(func.count()).select_from(KioskRating)
                             .where(KioskRating.kiosk_id.in_(synthetic))) == 500
    assert db.session.scalar(select(func.count()).select_from(SurveyResponse)) == 50
    assert db.session.scalar(select(func.count()).select_from(KioskRating)) == 502
    rollups_equal_raw_rows()
    assert db.session.scalar(select(func.count()).select_from(RollupCount)
                             .where(RollupCount.count <= 0)) == 0
    answers = Tally(code for (code,) in db.session.execute(select(SurveyAnswer.item_code)))
    assert sum(answers.values()) == summary.answers


def test_the_bulk_load_refreshes_the_planner_statistics(demo):
    demo_data.generate(300, 30, months=1, seed=2, today=TODAY)
    if db.engine.dialect.name == "postgresql":
        analysed = db.session.scalar(text(
            "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables "
            "WHERE relname = 'kiosk_ratings'"))
        assert analysed
    else:
        assert db.session.scalar(text(
            "SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'kiosk_ratings'")) > 0


def test_surveys_submitted_between_two_chunks_keep_their_ids(demo, monkeypatch):
    """A live aggregator takes phone surveys while the history is written chunk by chunk: a
    generated response never takes an id a citizen's survey already has."""
    from datetime import UTC, datetime

    from sqlalchemy.orm import Session

    from core.models import Unit
    from core.services.survey import questionnaires

    monkeypatch.setattr(demo_data, "CHUNK_RATINGS", 300)
    monkeypatch.setattr(demo_data, "CHUNK_RATINGS_SQLITE", 300)
    questionnaire = questionnaires.ensure_default().id
    unit = db.session.scalar(select(Unit.id).where(Unit.code == "T-DEMO-TTHCC"))
    db.session.commit()
    other = create_engine(db.engine.url.render_as_string(hide_password=False))
    citizens: list[int] = []

    def a_citizen_submits(_message: str) -> None:
        with Session(other) as session, session.begin():
            response = SurveyResponse(
                token_key=f"p:citizen-{len(citizens)}", channel="poster",
                questionnaire_id=questionnaire, unit_id=unit, locale="vi",
                submitted_at=datetime(2026, 11, 20, 3, 0, tzinfo=UTC),
                local_day=date(2026, 11, 20))
            session.add(response)
            session.flush()
            citizens.append(response.id)

    summary = demo_data.generate(1500, 300, months=2, seed=8, today=TODAY,
                                 progress=a_citizen_submits)
    other.dispose()
    assert len(citizens) >= 2
    db.session.expire_all()
    for rid in citizens:
        assert db.session.get(SurveyResponse, rid).token_key.startswith("p:citizen-")
    assert db.session.scalar(select(func.count()).select_from(SurveyResponse)) == (
        summary.responses + len(citizens))
