"""Rollups equal the raw counts after random generated ingest, so the dashboard (which reads only
rollups) equals a plain GROUP BY over the raw rows."""

from __future__ import annotations

import random
from collections import Counter as Tally
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from core import sipas
from core.extensions import db
from core.models import (
    KioskRating,
    RollupCount,
    RollupDimMonth,
    RollupHour,
    RollupUnitDay,
    RollupUnitMonth,
    SurveyAnswer,
    SurveyResponse,
    Unit,
)
from core.services import rollups
from core.services.reporting import breakdowns, cells, figures, filters, periods
from core.services.rollups import Key
from demo import history as demo_data

TODAY = date(2026, 12, 1)


def fine_cells(where) -> Tally:
    r = RollupCount
    stmt = select(r.unit_id, r.counter_id, r.officer_id, r.procedure_id, r.day, r.channel,
                  r.item_code, r.level, r.misuse, r.count).where(where)
    return Tally({tuple(row[:-1]): row[-1] for row in db.session.execute(stmt)})


def raw_taps() -> tuple[Tally, Tally, Tally, Tally]:
    taps, reasons, hours, hours_sat = Tally(), Tally(), Tally(), Tally()
    for row in db.session.execute(select(
        KioskRating.unit_id, KioskRating.counter_id, KioskRating.officer_id,
        KioskRating.procedure_id, KioskRating.local_day, KioskRating.level,
        KioskRating.misuse, KioskRating.reasons, KioskRating.local_hour,
    )):
        dims = (row.unit_id, row.counter_id, row.officer_id or 0, row.procedure_id or 0,
                row.local_day, "kiosk")
        flagged = row.misuse is not None
        taps[(*dims, "TAP", row.level, flagged)] += 1
        for code in row.reasons or []:
            reasons[(*dims, f"reason:{code}", 0, flagged)] += 1
        hours[(row.unit_id, row.local_day, row.local_hour, flagged)] += 1
        hours_sat[(row.unit_id, row.local_day, row.local_hour, flagged)] += int(row.level >= 4)
    return taps, reasons, hours, hours_sat


def raw_survey() -> Tally:
    cells = Tally()
    s = SurveyResponse
    for row in db.session.execute(select(
        s.unit_id, s.counter_id, s.officer_id, s.procedure_id, s.local_day, s.channel,
        s.misuse, SurveyAnswer.item_code, SurveyAnswer.level,
    ).join(SurveyAnswer, SurveyAnswer.response_id == s.id)):
        dims = (row.unit_id, row.counter_id or 0, row.officer_id or 0, row.procedure_id or 0,
                row.local_day, row.channel)
        cells[(*dims, row.item_code, row.level, row.misuse is not None)] += 1
    for row in db.session.execute(select(
        s.unit_id, s.counter_id, s.officer_id, s.procedure_id, s.local_day, s.channel, s.misuse,
        s.trips, s.harassment, s.informal_payment, s.submission_channel, s.priorities,
    )):
        dims = (row.unit_id, row.counter_id or 0, row.officer_id or 0, row.procedure_id or 0,
                row.local_day, row.channel)
        flagged = row.misuse is not None
        cells[(*dims, "RESP", 0, flagged)] += 1
        for question, value in (("trips", row.trips), ("harassment", row.harassment),
                                ("informal_payment", row.informal_payment),
                                ("channel", row.submission_channel)):
            cells[(*dims, f"{question}:{value}", 0, flagged)] += 1
        for code in row.priorities or []:
            cells[(*dims, f"priorities:{code}", 0, flagged)] += 1
    return cells


def coarse_matches_fine() -> None:
    r = RollupCount
    fine = Tally()
    for u, d, ch, item, lv, m, n in db.session.execute(
        select(r.unit_id, r.day, r.channel, r.item_code, r.level, r.misuse, func.sum(r.count))
        .group_by(r.unit_id, r.day, r.channel, r.item_code, r.level, r.misuse)
    ):
        fine[(u, d, ch, item, lv, m)] = int(n)
    c = RollupUnitDay
    coarse = Tally({(u, d, ch, item, lv, m): n for u, d, ch, item, lv, m, n in db.session.execute(
        select(c.unit_id, c.day, c.channel, c.item_code, c.level, c.misuse, c.count))})
    assert coarse == fine
    by_month = Tally()
    for (u, d, ch, item, lv, m), n in fine.items():
        by_month[(u, d.replace(day=1), ch, item, lv, m)] += n
    mo = RollupUnitMonth
    months = Tally({(u, d, ch, item, lv, m): n for u, d, ch, item, lv, m, n in db.session.execute(
        select(mo.unit_id, mo.month, mo.channel, mo.item_code, mo.level, mo.misuse, mo.count))})
    assert months == by_month


def test_generated_history_has_rollups_equal_to_raw_counts(demo):
    summary = demo_data.generate(2500, 250, months=3, seed=7, today=TODAY)
    # A second run asked to append (sequence numbers and ids continue) must stay consistent.
    demo_data.generate(700, 70, months=2, seed=8, today=TODAY, existing="append")
    assert summary.ratings == 2500 and summary.responses == 250
    assert db.session.scalar(select(func.count()).select_from(KioskRating)) == 3200
    assert db.session.scalar(select(func.count()).select_from(SurveyResponse)) == 320

    taps, reasons, hours, hours_sat = raw_taps()
    assert fine_cells(RollupCount.item_code == "TAP") == taps
    assert fine_cells(RollupCount.item_code.startswith("reason:")) == reasons
    assert fine_cells(RollupCount.channel != "kiosk") == raw_survey()
    h = RollupHour
    stored = {(u, d, hr, m): (t, s) for u, d, hr, m, t, s in db.session.execute(
        select(h.unit_id, h.day, h.hour, h.misuse, h.total, h.satisfied))}
    assert stored == {k: (n, hours_sat[k]) for k, n in hours.items()}
    coarse_matches_fine()

    # Sequence numbers per kiosk have no gaps and no repeats.
    for _kiosk, low, high, n in db.session.execute(
        select(KioskRating.kiosk_id, func.min(KioskRating.seq), func.max(KioskRating.seq),
               func.count()).group_by(KioskRating.kiosk_id)
    ):
        assert (low, high) == (1, n)


def test_the_dashboard_over_rollups_equals_the_figures_over_raw_rows(demo):
    demo_data.generate(3000, 400, months=2, seed=11, today=TODAY)
    province = db.session.scalar(select(Unit).where(Unit.code == "T-DEMO"))
    f = filters.Filters(province, periods.Period("custom", TODAY - timedelta(days=61),
                                                 TODAY - timedelta(days=1)))
    head = figures.headline(f, with_previous=False)

    levels = [(lv, m is not None) for lv, m in db.session.execute(
        select(KioskRating.level, KioskRating.misuse))]
    taps = sipas.Counts.from_answers([lv for lv, _ in levels], [m for _, m in levels])
    assert head.counter_rate.value == sipas.counter_rate(taps).value
    answers: dict[str, list[tuple[int, bool]]] = {}
    for code, level, misuse in db.session.execute(
        select(SurveyAnswer.item_code, SurveyAnswer.level, SurveyResponse.misuse)
        .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
    ):
        answers.setdefault(code, []).append((level, misuse is not None))
    counts = {code: sipas.Counts.from_answers([a for a, _ in v], [m for _, m in v])
              for code, v in answers.items()}
    element_of = figures.service_element_of_item(figures.questionnaire())
    expected = sipas.compute_service(counts, element_of)
    assert head.sipas.value == expected.service
    assert {k: v.value for k, v in head.elements.items()} == expected.elements
    assert head.respondents == db.session.scalar(
        select(func.count()).select_from(SurveyResponse).where(SurveyResponse.misuse.is_(None)))
    # Near the national averages of docs/METHOD.md (about 84%): realistic demo data.
    assert 75 < head.counter_rate.value < 93 and 75 < head.sipas.value < 93


keys = st.builds(
    Key,
    unit_id=st.integers(1, 3),
    day=st.dates(date(2026, 1, 28), date(2026, 2, 3)),
    channel=st.sampled_from(["kiosk", "poster"]),
    item_code=st.sampled_from(["TAP", "TC1", "RESP"]),
    level=st.integers(0, 5),
    counter_id=st.integers(0, 2),
    officer_id=st.integers(0, 2),
    procedure_id=st.integers(0, 1),
    misuse=st.booleans(),
)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(keys, max_size=30), min_size=1, max_size=4))
def test_rollups_add_keeps_the_unit_day_cells_equal_to_the_fine_cells(app, batches):
    db.session.execute(RollupCount.__table__.delete())
    db.session.execute(RollupUnitDay.__table__.delete())
    db.session.execute(RollupUnitMonth.__table__.delete())
    for batch in batches:
        random.Random(len(batch)).shuffle(batch)
        rollups.add(batch)
    db.session.flush()
    coarse_matches_fine()
    total = sum(len(b) for b in batches)
    assert (db.session.scalar(select(func.coalesce(func.sum(RollupUnitDay.count), 0)))
            == total)
    db.session.rollback()


def test_demo_data_command_twice_appends_only_when_asked(demo, runner):
    args = ["demo-data", "--ratings", "300", "--responses", "30", "--months", "1"]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "Generated 300 ratings, 30 responses" in result.output
    refused = runner.invoke(args=args)
    assert refused.exit_code != 0 and "already there" in refused.output
    assert db.session.scalar(select(func.count()).select_from(KioskRating)) == 300
    appended = runner.invoke(args=[*args, "--existing", "append"])
    assert appended.exit_code == 0, appended.output
    assert "Generated 300 ratings, 30 responses" in appended.output
    assert db.session.scalar(select(func.count()).select_from(KioskRating)) == 600
    assert db.session.scalar(select(func.count()).select_from(SurveyResponse)) == 60
    coarse_matches_fine()
    refused = runner.invoke(args=["demo-data", "--ratings", "-1"])
    assert refused.exit_code != 0 and "counts must be" in refused.output


def dim_months_match_fine() -> None:
    """rollup_dim_months equals the fine cells summed by counter, procedure and month."""
    r = RollupCount
    expected = Tally()
    for u, c, p, d, ch, item, lv, m, n in db.session.execute(select(
        r.unit_id, r.counter_id, r.procedure_id, r.day, r.channel, r.item_code, r.level,
        r.misuse, r.count,
    )):
        expected[(u, c, p, d.replace(day=1), ch, item, lv, m)] += n
    dm = RollupDimMonth
    stored = Tally({k[:-1]: k[-1] for k in db.session.execute(select(
        dm.unit_id, dm.counter_id, dm.procedure_id, dm.month, dm.channel, dm.item_code,
        dm.level, dm.misuse, dm.count,
    ))})
    assert stored == expected


def test_monthly_breakdown_cells_equal_the_fine_cells(demo):
    demo_data.generate(1500, 200, months=3, seed=5, today=TODAY)
    dim_months_match_fine()
    # The same through the online path (rollups.add), on top of the bulk one.
    from tests.dashboard_support import counter_of, tap

    tap(counter_of("T-DEMO-X1"), TODAY - timedelta(days=40), 5, procedure_id=None)
    db.session.commit()
    dim_months_match_fine()


def test_breakdowns_over_months_and_partial_days_equal_the_fine_cells(demo):
    """A range with partial months on both sides reads monthly and daily cells; every figure
    equals the one computed from the fine cells alone."""
    from core.services.accounts.users import create_user

    demo_data.generate(2000, 300, months=3, seed=9, today=TODAY)
    admin = create_user("breakdown.admin", "breakdown-pass-1234", role="admin")
    province = db.session.scalar(select(Unit).where(Unit.code == "T-DEMO"))
    period = periods.Period("custom", (TODAY - timedelta(days=75)).replace(day=9),
                            TODAY - timedelta(days=3))
    q = figures.questionnaire()
    for include_misuse in (False, True):
        f = filters.Filters(province, period, include_misuse=include_misuse)
        for by, column in (("counter", RollupCount.counter_id),
                           ("procedure", RollupCount.procedure_id)):
            fine: dict[int, cells.CellTotals] = {}
            r = RollupCount
            for key, code, level, misuse, count in db.session.execute(
                select(column, r.item_code, r.level, r.misuse, func.sum(r.count))
                .where(r.day >= period.start, r.day <= period.end, column != 0)
                .group_by(column, r.item_code, r.level, r.misuse)
            ):
                fine.setdefault(key, cells.CellTotals()).add(code, level, misuse, count)
            expected = {}
            for key, t in fine.items():
                h = figures.headline_from_totals(t, f, q)
                expected[key] = (h.sipas.value, h.sipas.n, h.counter_rate.value,
                                 h.counter_rate.n)
            got = {row.key: (row.sipas.value, row.sipas.n, row.counter_rate.value,
                             row.counter_rate.n) for row in breakdowns.breakdown(admin, f, by)}
            assert got == expected and got, (by, include_misuse)
