"""Dashboard over rollups vs a plain GROUP BY over raw rows, and a 1-million-row CSV export.

PostgreSQL database from BENCH_DATABASE_URL (default: a local ``sipas_dashbench``, created when
missing). The history comes from ``demo.history.generate`` (the same path as
``flask demo-data``) up to BENCH_RATINGS kiosk taps and BENCH_RESPONSES phone surveys; data
already there is reused, so a second run only measures. Every ratio is measured in one run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/sipas_dashbench"
SECRET = "bench-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"
EXPORT_ROWS = 1_000_000


def url() -> str:
    return os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)


def ensure_database(database_url: str) -> None:
    target = make_url(database_url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                              {"n": target.database}).first()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


def make_app(instance: str):
    from core import create_app

    return create_app({
        "SQLALCHEMY_DATABASE_URI": url(), "SECRET_KEY": SECRET, "ROLE": "aggregator",
        "INSTANCE_PATH": instance, "WTF_CSRF_ENABLED": False, "LOG_LEVEL": "WARNING",
    }, env={})


def timed(fn: Callable[[], object], runs: int, warm: int = 2) -> list[float]:
    for _ in range(warm):
        fn()
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def raw_headline(f):
    """The headline figures (current and previous period) by GROUP BY over the raw rows."""
    from core import sipas
    from core.extensions import db
    from core.models import KioskRating, SurveyAnswer, SurveyResponse, Unit
    from core.services.reporting import figures

    q = figures.questionnaire()
    element_of = figures.service_element_of_item(q)
    out = []
    for period in (f.period, f.period.previous()):
        units = select(Unit.id).where(Unit.path.startswith(f.unit.path))
        k = KioskRating
        taps = {(lv, m): n for lv, m, n in db.session.execute(
            select(k.level, k.misuse.is_not(None), func.count())
            .where(k.unit_id.in_(units), k.local_day >= period.start, k.local_day <= period.end)
            .group_by(k.level, k.misuse.is_not(None)))}
        counts = sipas.Counts.from_mapping(
            {lv: n for (lv, m), n in taps.items() if not m},
            {lv: n for (lv, m), n in taps.items() if m})
        s, a = SurveyResponse, SurveyAnswer
        where = (s.unit_id.in_(units), s.local_day >= period.start, s.local_day <= period.end)
        cells: dict[str, dict[bool, dict[int, int]]] = {}
        for code, lv, m, n in db.session.execute(
            select(a.item_code, a.level, s.misuse.is_not(None), func.count())
            .join(s, s.id == a.response_id).where(*where)
            .group_by(a.item_code, a.level, s.misuse.is_not(None))):
            cells.setdefault(code, {}).setdefault(m, {})[lv] = n
        respondents = db.session.scalar(
            select(func.count()).select_from(s).where(*where, s.misuse.is_(None)))
        by_item = {code: sipas.Counts.from_mapping(v.get(False, {}), v.get(True, {}))
                   for code, v in cells.items() if code in element_of}
        service = sipas.compute_service(by_item, element_of, respondents=respondents)
        out.append((sipas.counter_rate(counts).value, service.service))
    return out


def dashboard_figures(f):
    from core.services.reporting import breakdowns, figures, rankings

    head = rankings.overview(f).headline
    figures.trend(f)
    figures.heatmap(f)
    breakdowns.reasons(f, head.totals)
    breakdowns.perception(f, head.totals)
    return head


def high_water_mb() -> float:
    """Peak resident memory of this process (VmHWM; ru_maxrss would carry the parent's peak
    across fork and exec on Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def export_child(period_start: str, period_end: str) -> None:
    """Run in a fresh process: stream the CSV to /dev/null and report peak memory."""
    from core.extensions import db
    from core.models import Unit, User
    from core.services.reporting import exports, filters, periods

    with tempfile.TemporaryDirectory() as instance:
        app = make_app(instance)
        with app.app_context():
            admin = db.session.scalar(select(User).where(User.username == "bench"))
            province = db.session.scalar(select(Unit).where(Unit.code == "T-DEMO"))
            f = filters.Filters(province, periods.Period(
                "custom", date.fromisoformat(period_start), date.fromisoformat(period_end)),
                channels=("kiosk",), include_misuse=True)
            before = high_water_mb()
            start = time.perf_counter()
            rows = size = 0
            with open(os.devnull, "wb") as sink:
                for chunk in exports.encoded(exports.ratings_csv(admin, f)):
                    rows += chunk.count(b"\r\n")
                    size += len(chunk)
                    sink.write(chunk)
            seconds = time.perf_counter() - start
            peak = high_water_mb()
    print(json.dumps({"rows": rows - 1, "bytes": size, "seconds": seconds,
                      "rss_before_mb": before, "peak_rss_mb": peak}))


def main() -> None:
    from flask_migrate import upgrade

    from core.extensions import db
    from core.models import (
        KioskRating,
        RollupCount,
        RollupUnitDay,
        RollupUnitMonth,
        SurveyResponse,
        Unit,
        User,
    )
    from core.services.accounts.users import create_user
    from core.services.reporting import figures, filters, periods
    from demo import history as demo_data

    ratings = int(os.environ.get("BENCH_RATINGS", "10000000"))
    responses = int(os.environ.get("BENCH_RESPONSES", "1000000"))
    ensure_database(url())
    with tempfile.TemporaryDirectory() as instance:
        app = make_app(instance)
        with app.app_context():
            upgrade()
            have = db.session.scalar(select(func.count()).select_from(KioskRating))
            have_r = db.session.scalar(select(func.count()).select_from(SurveyResponse))
            if have < ratings or have_r < responses:
                start = time.perf_counter()
                # A bench database that was filled part way is topped up.
                demo_data.generate(max(0, ratings - have), max(0, responses - have_r),
                                   seed=have + 1, existing="append")
                took = time.perf_counter() - start
                print(f"generated {ratings - have:,} ratings + {responses - have_r:,} responses "
                      f"in {took:.0f} s ({(ratings - have) / took:,.0f} ratings/s)")
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
            counts = {
                "kiosk_ratings": db.session.scalar(select(func.count()).select_from(KioskRating)),
                "survey_responses": db.session.scalar(
                    select(func.count()).select_from(SurveyResponse)),
                "survey_answers": db.session.scalar(text("SELECT count(*) FROM survey_answers")),
                "rollup_counts": db.session.scalar(select(func.count()).select_from(RollupCount)),
                "rollup_unit_days": db.session.scalar(
                    select(func.count()).select_from(RollupUnitDay)),
                "rollup_unit_months": db.session.scalar(
                    select(func.count()).select_from(RollupUnitMonth)),
            }
            print("rows: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
            if db.session.scalar(select(User.id).where(User.username == "bench")) is None:
                create_user("bench", "bench-password-123", role="admin")
                db.session.commit()
            last = db.session.scalar(select(func.max(KioskRating.local_day)))
            province = db.session.scalar(select(Unit).where(Unit.code == "T-DEMO"))
            commune = db.session.scalar(select(Unit).where(Unit.code == "T-DEMO-X1"))
            scenarios = {
                "province, year": filters.Filters(province, periods.year_period(last.year)),
                "commune, month": filters.Filters(
                    commune, periods.month_period(last.year, last.month)),
            }
            client = app.test_client()
            client.post("/admin/login", data={"username": "bench",
                                              "password": "bench-password-123"})
            print(f"{'scenario':16} {'figures p50/p95 ms':>20} {'page p50/p95 ms':>18} "
                  f"{'headline ms':>12} {'raw GROUP BY ms':>16} {'ratio':>7}")
            for name, f in scenarios.items():
                figure_ms = timed(lambda f=f: dashboard_figures(f), runs=30)
                db.session.rollback()
                args = f.query_args()
                page = timed(lambda args=args: client.get("/admin/dashboard", query_string=args),
                             runs=20)
                head = timed(lambda f=f: figures.headline(f), runs=30)
                raw = timed(lambda f=f: raw_headline(f), runs=3, warm=1)
                h = figures.headline(f)
                expect = raw_headline(f)[0]
                same = (h.counter_rate.value == expect[0]
                        and abs((h.sipas.value or 0) - (expect[1] or 0)) < 1e-9)
                print(f"{name:16} {p(figure_ms, .5):9.1f}/{p(figure_ms, .95):<9.1f} "
                      f"{p(page, .5):8.1f}/{p(page, .95):<8.1f} {p(head, .5):12.1f} "
                      f"{p(raw, .5):16.1f} {p(raw, .5) / p(head, .5):6.0f}x"
                      f"  same figures: {same}")
            # A period holding about a million ratings, for the export.
            per_day = db.session.execute(
                select(RollupUnitDay.day, func.sum(RollupUnitDay.count))
                .where(RollupUnitDay.item_code == "TAP").group_by(RollupUnitDay.day)
                .order_by(RollupUnitDay.day.desc())).all()
            total, start_day = 0, last
            for day, n in per_day:
                total += int(n)
                start_day = day
                if total >= EXPORT_ROWS:
                    break
    result = subprocess.run(
        [sys.executable, "-c", "import bench.bench_dashboard as b; "
         f"b.export_child('{start_day.isoformat()}', '{last.isoformat()}')"],
        capture_output=True, text=True, check=True, env={**os.environ},
    )
    got = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"CSV export: {got['rows']:,} rows ({got['bytes'] / 2**20:,.0f} MiB) in "
          f"{got['seconds']:.1f} s ({got['rows'] / got['seconds']:,.0f} rows/s), peak RSS "
          f"{got['peak_rss_mb']:.0f} MB (process at start {got['rss_before_mb']:.0f} MB)")


if __name__ == "__main__":
    main()
