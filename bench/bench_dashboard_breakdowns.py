"""Breakdown pages (by counter, procedure, field, officer) on the filled dashboard database.

Uses the database of bench/bench_dashboard.py (BENCH_DATABASE_URL, default ``sipas_dashbench``)
as it is: it migrates it to the head revision (which fills ``rollup_dim_months`` from the fine
cells) but generates nothing. In one run it times ``breakdowns.breakdown`` (whole months from
``rollup_dim_months``, partial months from ``rollup_counts``) against the same figures read from
the fine ``rollup_counts`` cells alone (the previous method), checks they agree, and reports the
ratio (the two are timed alternately, run by run). The officer breakdown reads the fine cells
either way: its ratio shows the noise of the machine.
"""

from __future__ import annotations

import tempfile
import time
from collections import defaultdict

from sqlalchemy import func, select, text

from bench.bench_dashboard import make_app, p


def interleaved(a, b, runs: int) -> tuple[list[float], list[float]]:
    """Time two callables alternately, so a machine shared with other work slows both alike."""
    a()
    b()
    out_a, out_b = [], []
    for _ in range(runs):
        for fn, out in ((a, out_a), (b, out_b)):
            start = time.perf_counter()
            fn()
            out.append((time.perf_counter() - start) * 1000)
    return out_a, out_b


def fine_only(f, by: str):
    """The breakdown as it was computed before rollup_dim_months: every fine cell of the range."""
    from core.extensions import db
    from core.models import Procedure, RollupCount, Unit
    from core.services.reporting import cells, figures

    q = figures.questionnaire()
    r = RollupCount
    dim = {"counter": r.counter_id, "officer": r.officer_id}.get(by, r.procedure_id)
    per_key: dict[int, cells.CellTotals] = defaultdict(cells.CellTotals)
    for key, code, level, misuse, count in db.session.execute(
        select(dim, r.item_code, r.level, r.misuse, func.sum(r.count))
        .where(r.day >= f.period.start, r.day <= f.period.end,
               r.unit_id.in_(select(Unit.id).where(
                   Unit.path.startswith(f.unit.path))),
               r.channel.in_(f.channels), r.item_code.in_(figures.headline_codes(q)), dim != 0)
        .group_by(dim, r.item_code, r.level, r.misuse)
    ):
        per_key[int(key)].add(code, level, misuse, count)
    if by == "field":
        field_of = dict(db.session.execute(select(Procedure.id, Procedure.field_id)).all())
        merged: dict[int, cells.CellTotals] = defaultdict(cells.CellTotals)
        for pid, t in per_key.items():
            if field_of.get(pid) is not None:
                cells.merge_into(merged[field_of[pid]], t)
        per_key = merged
    return {k: figures.headline_from_totals(t, f, q) for k, t in per_key.items()}


def main() -> None:
    from flask_migrate import upgrade

    from core.extensions import db
    from core.models import KioskRating, RollupDimMonth, Unit, User
    from core.services.reporting import breakdowns, filters, periods

    with tempfile.TemporaryDirectory() as instance:
        app = make_app(instance)
        with app.app_context():
            upgrade()
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE rollup_dim_months"))
            n = db.session.scalar(select(func.count()).select_from(RollupDimMonth))
            print(f"rollup_dim_months: {n:,} rows")
            admin = db.session.scalar(select(User).where(User.username == "bench"))
            last = db.session.scalar(select(func.max(KioskRating.local_day)))
            province = db.session.scalar(select(Unit).where(Unit.code == "T-DEMO"))
            f = filters.Filters(province, periods.year_period(last.year))
            print(f"{'province, year':16} {'by':10} {'breakdown p50/p95 ms':>22} "
                  f"{'fine cells p50/p95 ms':>22} {'ratio':>6}")
            for by in ("counter", "procedure", "field", "officer"):
                new, old = interleaved(lambda by=by: breakdowns.breakdown(admin, f, by),
                                       lambda by=by: fine_only(f, by), runs=7)
                rows = {r.key: (r.sipas.value, r.counter_rate.value)
                        for r in breakdowns.breakdown(admin, f, by)}
                ref = {k: (h.sipas.value, h.counter_rate.value)
                       for k, h in fine_only(f, by).items()}
                same = rows == ref
                print(f"{'':16} {by:10} {p(new, .5):10.1f}/{p(new, .95):<10.1f} "
                      f"{p(old, .5):10.1f}/{p(old, .95):<10.1f} {p(old, .5) / p(new, .5):5.1f}x"
                      f"  same figures: {same}")
            db.session.rollback()


if __name__ == "__main__":
    main()
