"""Every headline figure computed by hand on a small dataset, and read back from the dashboard
page, the reporting API and the XLSX report.

The dataset (November 2026, previous month October 2026):
- Xã Tân Phú (X1) kiosk: 12 valid taps, 9 of them satisfied, plus one tap flagged too_fast
  -> counter rate 9/12 = 75.00%, 7.69% (1 of 13) excluded; October 6/10 = 60.00%, change +15.
- X1 phone surveys: 8 respondents answer 5 everywhere except 4 on CC and "no opinion" on PA1;
  respondent 9 answers 4 on TC, 2 on KQ, 3 elsewhere; respondent 10 answers 1, "no opinion" on
  PA; one more response is flagged as misuse (all 1).
  TC 9/10 = 90, TT 8/10 = 80, CC 8/10 = 80, KQ 8/10 = 80,
  PA = mean(PA1 0/1 = 0, PA2 8/9, PA3 8/9) = 59.259..., SIPAS-style = mean = 77.85.
  PA rests on 9 respondents with a valid answer, so it is shown as "không đủ mẫu".
- Xã Hòa Lạc (X2): 10 respondents all 5 -> 100 (rank 1); in October 5 at 5 and 5 at 3 -> 50.
  X1 had 100 in October (rank 1) and drops to rank 2 ("giảm 1 bậc"); X2 climbs 1.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from datetime import date

import pytest
from sqlalchemy import select

from core.services.reporting import (
    breakdowns,
    comments,
    errors,
    figures,
    filters,
    periods,
    rankings,
)
from core.sipas import round2
from tests.dashboard_support import counter_of, login, respond, tap, unit, user

NOV = date(2026, 11, 10)
OCT = date(2026, 10, 10)
ITEMS = {
    "TC": ["TC1", "TC2", "TC3", "TC4"], "TT": ["TT1", "TT2", "TT3", "TT4"],
    "CC": ["CC1", "CC2", "CC3", "CC4", "CC5"], "KQ": ["KQ1", "KQ2", "KQ3"],
    "PA": ["PA1", "PA2", "PA3"],
}
ALL = [code for codes in ITEMS.values() for code in codes]
PA = 100 * (0 + 8 / 9 + 8 / 9) / 3
SIPAS = (90 + 80 + 80 + 80 + PA) / 5


def wilson(s: int, n: int) -> tuple[float, float]:
    """The Wilson 95% interval written out, independently of core/sipas.py."""
    z = 1.959963984540054
    p = s / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return round(100 * (centre - half), 2), round(100 * (centre + half), 2)


def answers_for(kind: str) -> dict[str, int]:
    if kind == "good":
        out = {c: 5 for c in ALL}
        out.update({c: 4 for c in ITEMS["CC"]})
        out["PA1"] = 0
        return out
    if kind == "middling":
        out = {c: 3 for c in ALL}
        out.update({c: 4 for c in ITEMS["TC"]})
        out.update({c: 2 for c in ITEMS["KQ"]})
        return out
    if kind == "bad":
        out = {c: 1 for c in ALL}
        out.update({c: 0 for c in ITEMS["PA"]})
        return out
    return {c: int(kind) for c in ALL}


@pytest.fixture
def dataset(demo):
    x1, x2 = counter_of("T-DEMO-X1"), counter_of("T-DEMO-X2")
    for level in (5, 5, 4, 4, 4, 2, 2, 5, 4, 2, 5, 4):
        tap(x1, NOV, level)
    tap(x1, NOV, 5, misuse="too_fast")
    for level in (5, 4, 5, 4, 5, 4, 2, 2, 2, 2):
        tap(x1, OCT, level)
    for _ in range(8):
        respond(x1, NOV, answers_for("good"))
    respond(x1, NOV, answers_for("middling"))
    respond(x1, NOV, answers_for("bad"), comment="Gọi 0912 345 678 giúp tôi")
    respond(x1, NOV, answers_for("1"), misuse="rate_limited")
    for _ in range(10):
        respond(x1, OCT, answers_for("5"))
        respond(x2, NOV, answers_for("5"))
    for i in range(10):
        respond(x2, OCT, answers_for("5" if i < 5 else "3"))
    from core.extensions import db

    db.session.commit()
    return demo


def nov(code: str, **kw) -> filters.Filters:
    return filters.Filters(unit(code), periods.month_period(2026, 11), **kw)


def test_headline_figures_match_the_hand_computation(dataset):
    h = figures.headline(nov("T-DEMO-X1"))
    assert round2(h.counter_rate.value) == 75.00
    assert h.counter_rate.n == 12
    assert (round(h.counter_rate.low, 2), round(h.counter_rate.high, 2)) == wilson(9, 12)
    assert round2(h.counter_rate.excluded_share) == 7.69
    assert h.counter_rate.previous == 60.0 and h.counter_rate.change == 15.0
    assert {k: round2(v.value) for k, v in h.elements.items()} == {
        "TC": 90.0, "TT": 80.0, "CC": 80.0, "KQ": 80.0, "PA": round(PA, 2)}
    assert h.elements["PA"].suppressed and h.elements["PA"].n == 9
    assert round2(h.sipas.value) == round(SIPAS, 2) == 77.85
    assert h.respondents == 10 and not h.sipas.suppressed
    assert round2(h.sipas.excluded_share) == 9.09  # 1 of 11 responses flagged
    assert h.sipas.previous == 100.0 and round2(h.sipas.change) == round(77.85 - 100, 2)
    assert round2(h.items["PA1"].value) == 0.0 and h.items["PA1"].n == 1
    assert h.distribution[0] == 8 + 3  # PA1 x8 and PA x3 of the last respondent


def test_misuse_can_be_included(dataset):
    h = figures.headline(nov("T-DEMO-X1", include_misuse=True))
    assert round2(h.counter_rate.value) == round(100 * 10 / 13, 2) == 76.92
    assert round2(h.items["TC1"].value) == round(100 * 9 / 11, 2)
    assert h.respondents == 11


def test_channel_filter_separates_taps_from_surveys(dataset):
    taps_only = figures.headline(nov("T-DEMO-X1", channels=("kiosk",)))
    assert taps_only.counter_rate.n == 12 and taps_only.respondents == 0
    assert taps_only.sipas.suppressed
    survey_only = figures.headline(nov("T-DEMO-X1", channels=("poster",)))
    assert survey_only.counter_rate.n == 0 and survey_only.respondents == 10


def test_suppression_below_min_report_n(dataset):
    # Nine respondents: one fewer than MIN_REPORT_N, so "không đủ mẫu".
    q4 = filters.Filters(unit("T-DEMO-X1"), periods.Period("custom", NOV, NOV),
                         channels=("poster",))
    from core.extensions import db
    from core.models import RollupUnitDay

    assert figures.headline(q4).respondents == 10
    db.session.execute(
        RollupUnitDay.__table__.update()
        .where(RollupUnitDay.item_code == "RESP", RollupUnitDay.unit_id == unit("T-DEMO-X1").id,
               RollupUnitDay.day == NOV, RollupUnitDay.misuse.is_(False))
        .values(count=9)
    )
    h = figures.headline(q4)
    assert h.respondents == 9 and h.sipas.suppressed and h.sipas.as_dict()["value"] is None
    db.session.rollback()


def test_ranking_with_rank_change(dataset):
    rows = {r.unit.code: r for r in rankings.ranking(nov("T-DEMO-H1"))}
    assert (rows["T-DEMO-X2"].rank, rows["T-DEMO-X2"].previous_rank) == (1, 2)
    assert rows["T-DEMO-X2"].change == 1
    assert (rows["T-DEMO-X1"].rank, rows["T-DEMO-X1"].previous_rank) == (2, 1)
    assert rows["T-DEMO-X1"].change == -1
    assert rows["T-DEMO-P1"].rank is None  # no survey at all: not ranked


def test_dashboard_page_shows_the_same_figures_in_vietnamese_and_english(dataset, client):
    user("boss", "admin", None)
    login(client, "boss")
    x1 = unit("T-DEMO-X1").id
    page = client.get(f"/admin/dashboard?unit={x1}&period=month&value=2026-11").get_data(True)
    for text in ("77,85%", "75,00%", "90,00%", "7,69%", "không đủ mẫu"):
        assert text in page
    assert "59,26%" not in page  # PA: 9 respondents, suppressed
    assert "giảm 22,15 điểm" in page and "tăng 15,00 điểm" in page
    en = client.get(f"/admin/dashboard?unit={x1}&period=month&value=2026-11&lang=en")
    assert "77.85%" in en.get_data(True) and "75.00%" in en.get_data(True)
    h1 = unit("T-DEMO-H1").id
    ranking = client.get(f"/admin/dashboard?unit={h1}&period=month&value=2026-11").get_data(True)
    assert "giảm 1 bậc, từ hạng 1 xuống hạng 2" in ranking
    assert "tăng 1 bậc, từ hạng 2 lên hạng 1" in ranking


def test_api_returns_the_same_figures(dataset, client):
    from core.extensions import db
    from core.services.accounts import api_tokens

    boss = user("boss", "admin", None)
    token = api_tokens.create(boss, "test")
    db.session.commit()
    got = client.get("/api/v1/reports/indices?unit=T-DEMO-X1&period=month&value=2026-11",
                     headers={"Authorization": f"Bearer {token}"}).get_json()
    assert got["sipas_index"]["value"] == 77.85
    assert got["sipas_index"]["n"] == 10
    assert got["counter_rate"] == {
        "value": 75.0, "n": 12, "suppressed": False, "reason": None, "missing_elements": [],
        "ci95": list(wilson(9, 12)), "ci95_method": "wilson",
        "excluded_misuse_share": 7.69, "previous": 60.0, "change": 15.0}
    assert got["elements"]["PA"] == {
        "value": None, "n": 9, "suppressed": True, "reason": "insufficient_sample",
        "missing_elements": [], "ci95": None, "ci95_method": None,
        "excluded_misuse_share": 9.09, "previous": 100.0, "change": None}
    assert got["elements"]["TC"]["value"] == 90.0
    ranks = client.get("/api/v1/reports/rankings?unit=T-DEMO-H1&period=month&value=2026-11",
                       headers={"Authorization": f"Bearer {token}"}).get_json()
    by_code = {r["unit"]["code"]: r for r in ranks["rows"]}
    assert (by_code["T-DEMO-X1"]["rank"], by_code["T-DEMO-X1"]["change"]) == (2, -1)
    series = client.get("/api/v1/reports/timeseries?unit=T-DEMO-X1&period=month&value=2026-11"
                        "&months=2", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert [p["month"] for p in series["points"]] == ["2026-10", "2026-11"]
    assert [p["sipas_index"]["value"] for p in series["points"]] == [100.0, 77.85]


def xlsx_cells(body: bytes) -> dict[str, object]:
    """Cell reference -> value of the first sheet (numbers as float, strings as text)."""
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        shared = re.findall(r"<t[^>]*>([^<]*)</t>", z.read("xl/sharedStrings.xml").decode())
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    cells: dict[str, object] = {}
    for ref, attrs, value in re.findall(r'<c r="([A-Z]+\d+)"([^>]*)><v>([^<]*)</v></c>', sheet):
        cells[ref] = shared[int(value)] if 't="s"' in attrs else float(value)
    return cells


def test_xlsx_report_has_the_same_figures_rank_and_change(dataset, client):
    user("boss", "admin", None)
    login(client, "boss")
    h1 = unit("T-DEMO-H1").id
    response = client.get(f"/admin/dashboard/export/report.xlsx?unit={h1}&period=month"
                          "&value=2026-11")
    assert response.status_code == 200
    cells = xlsx_cells(response.data)
    assert cells["A4"] == "Mã đơn vị" and cells["E4"] == "Chỉ số SIPAS (%)"
    rows = {cells[f"A{r}"]: r for r in range(5, 9)}
    x1 = rows["T-DEMO-X1"]
    assert cells[f"E{x1}"] == 77.85
    assert cells[f"F{x1}"] == 90.0
    assert cells[f"J{x1}"] == "không đủ mẫu"
    assert cells[f"K{x1}"] == 75.0
    assert (cells[f"M{x1}"], cells[f"N{x1}"], cells[f"O{x1}"]) == (2.0, 1.0, -1.0)
    assert cells[f"P{x1}"] == -22.15
    assert cells[f"E{rows['T-DEMO-P1']}"] == "không đủ mẫu"


def test_perception_and_reasons_are_tallied(demo):
    from core.extensions import db

    x1 = counter_of("T-DEMO-X1")
    for i in range(10):
        respond(x1, NOV, {"TC1": 5}, perception={"trips": "1" if i < 7 else "2",
                                                 "harassment": "none"})
    tap(x1, NOV, 2, reasons=["waiting_time", "officer_attitude"])
    tap(x1, NOV, 2, reasons=["waiting_time"])
    db.session.commit()
    f = nov("T-DEMO-X1")
    trips = next(p for p in breakdowns.perception(f) if p.question == "trips")
    shares = {code: round2(fig.value) for code, _n, fig in trips.options}
    assert shares == {"1": 70.0, "2": 30.0, "3": 0.0, "4plus": 0.0}
    counts = {r.code: r.count for r in breakdowns.reasons(f)}
    assert counts["waiting_time"] == 2 and counts["officer_attitude"] == 1


def test_periods_and_their_previous_equivalents():
    p = periods.parse_period("quarter", "2026-Q1")
    assert (p.start, p.end) == (date(2026, 1, 1), date(2026, 3, 31))
    assert p.previous() == periods.quarter_period(2025, 4)
    assert periods.parse_period("month", "2026-03").previous().end == date(2026, 2, 28)
    custom = periods.parse_period("custom", start="2026-11-01", end="2026-11-10")
    assert (custom.previous().start, custom.previous().end) == (date(2026, 10, 22),
                                                                date(2026, 10, 31))
    for bad in (("month", "2026-13"), ("year", "26"), ("week", "1")):
        with pytest.raises(errors.ReportError):
            periods.parse_period(*bad)
    with pytest.raises(errors.ReportError):
        periods.parse_period("custom", start="2026-11-10", end="2026-11-01")


def test_phone_and_id_numbers_are_masked():
    assert comments.mask_numbers("Gọi 0912 345 678 nhé") == "Gọi •••••••••• nhé"
    assert comments.mask_numbers("CCCD 079190001234.") == "CCCD ••••••••••••."
    assert comments.mask_numbers("+84 28.3822.1234") == "••••••••••••"
    assert comments.mask_numbers("Quầy 3 mất 45 phút") == "Quầy 3 mất 45 phút"


def test_the_overview_read_by_unit_equals_the_headline_and_ranking_read_apart(dataset):
    for code in ("T-DEMO", "T-DEMO-H1", "T-DEMO-X1"):
        for f in (nov(code), nov(code, include_misuse=True), nov(code, channels=("kiosk",))):
            view = rankings.overview(f)
            assert view.headline.as_dict() == figures.headline(f).as_dict()
            assert view.ranking == rankings.ranking(f)


def test_breakdowns_by_counter_procedure_and_field(demo):
    from core.extensions import db
    from core.models import Procedure, User

    centre = counter_of("T-DEMO-TTHCC")
    birth = db.session.scalar(select(Procedure).where(Procedure.code == "HT-001"))
    copy = db.session.scalar(select(Procedure).where(Procedure.code == "CT-001"))
    marriage = db.session.scalar(select(Procedure).where(Procedure.code == "HT-002"))
    for level in (5, 5, 4, 2, 2, 5, 4, 4, 5, 2):  # 7 of 10
        tap(centre, NOV, level, procedure_id=birth.id)
    for level in (5, 2, 2, 2, 2, 2, 2, 2, 2, 4):  # 2 of 10
        tap(centre, NOV, level, procedure_id=copy.id)
    for level in (5, 5, 5, 5, 5, 5, 5, 5, 5, 2):  # 9 of 10
        tap(centre, NOV, level, procedure_id=marriage.id)
    db.session.commit()
    admin = User(username="x", role="admin", password_hash="-")
    f = nov("T-DEMO-TTHCC")
    by_counter = breakdowns.breakdown(admin, f, "counter")
    assert [(r.code, round2(r.counter_rate.value), r.counter_rate.n) for r in by_counter] == [
        ("T-DEMO-TTHCC/Q01", 60.0, 30)]
    by_procedure = {r.code: round2(r.counter_rate.value)
                    for r in breakdowns.breakdown(admin, f, "procedure")}
    assert by_procedure == {"HT-001": 70.0, "CT-001": 20.0, "HT-002": 90.0}
    by_field = {r.code: (round2(r.counter_rate.value), r.counter_rate.n)
                for r in breakdowns.breakdown(admin, f, "field")}
    assert by_field == {"HT": (80.0, 20), "CT": (20.0, 10)}  # pooled taps: 16 of 20


def test_heat_map_and_trend_come_from_the_hour_and_month_cells(demo):
    from core.extensions import db

    x1 = counter_of("T-DEMO-X1")
    monday = date(2026, 11, 9)
    for level, hour in ((5, 8), (2, 8), (4, 14), (5, 14), (5, 14)):
        tap(x1, monday, level, hour=hour)
    tap(x1, monday, 5, hour=8, misuse="too_fast")  # in its own flagged hour cell
    for level in (5,) * 10:
        tap(x1, date(2026, 9, 30), level)
    db.session.commit()
    f = nov("T-DEMO-X1")
    cells = figures.heatmap(f)
    assert set(cells) == {(0, 8), (0, 14)}
    assert (cells[(0, 8)].total, cells[(0, 8)].satisfied) == (2, 1)
    assert (cells[(0, 14)].total, cells[(0, 14)].satisfied) == (3, 3)
    months = {p.month: p.counter_rate for p in figures.trend(f, months=3)}
    assert months[date(2026, 9, 1)].value == 100.0
    assert months[date(2026, 10, 1)].n == 0
    assert months[date(2026, 11, 1)].suppressed and months[date(2026, 11, 1)].n == 5
