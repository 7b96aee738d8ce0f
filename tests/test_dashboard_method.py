"""The written method (docs/METHOD.md) on every page, API answer and export.

The dataset (November 2026, three communes of the demo district H1, 12 phone respondents each):
- X1: every item answered 5, but every PA item "no opinion": TC, TT, CC and KQ are 100, PA has
  no index, so X1 has no service index and is not ranked (the mean of the other four would
  have been 100 and first place).
- X2: every item 5 except TC1 (4 of 8 satisfied, 4 "no opinion") and TT1 (7 of 8): TC 87.5,
  TT 96.875, service (87.5 + 96.875 + 300) / 5 = 96.875, shown "96,88%". Kiosk: 29 taps at 5 and
  3 at 2: counter rate 29/32 = 90.625 exactly, shown "90,63%" (half up; Babel alone gives
  90,62).
- P1: every item 5 except TC1 (6 of 9) and CC1 (7 of 11): TC 91.666..., CC 92.727...,
  service 96.8787..., also shown "96,88%" but higher than X2 unrounded: P1 ranks 1, X2 2.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date
from fractions import Fraction

import pytest

from core import create_app
from core.extensions import db
from core.models import User
from core.services.accounts import api_tokens
from core.services.reporting import breakdowns, figures, filters, periods, rankings
from tests.conftest import SECRET
from tests.dashboard_support import counter_of, login, respond, tap, unit, user
from tests.test_dashboard_figures import ALL, xlsx_cells

NOV = date(2026, 11, 10)
MONTH = "period=month&value=2026-11"


def _answers(i: int, code: str) -> dict[str, int]:
    """Respondent i's answers for unit `code` (see the module docstring)."""
    out = {c: 5 for c in ALL}
    if code == "T-DEMO-X1":
        out.update({"PA1": 0, "PA2": 0, "PA3": 0})
    elif code == "T-DEMO-X2":
        out["TC1"] = 5 if i < 4 else 2 if i < 8 else 0
        out["TT1"] = 5 if i < 7 else 2 if i == 7 else 0
    else:
        out["TC1"] = 5 if i < 6 else 2 if i < 9 else 0
        out["CC1"] = 5 if i < 7 else 2 if i < 11 else 0
    return out


@pytest.fixture
def dataset(demo):
    for code in ("T-DEMO-X1", "T-DEMO-X2", "T-DEMO-P1"):
        counter = counter_of(code)
        for i in range(12):
            respond(counter, NOV, _answers(i, code))
    x2 = counter_of("T-DEMO-X2")
    for level in [5] * 29 + [2] * 3:
        tap(x2, NOV, level)
    db.session.commit()
    return demo


def nov(code: str) -> filters.Filters:
    return filters.Filters(unit(code), periods.month_period(2026, 11))


def _token() -> dict[str, str]:
    boss = user("boss", "admin", None)
    token = api_tokens.create(boss, "test")
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


# --------------------------------------------------------------------------------------------------
# 1. No service index without all five elements


def test_a_unit_without_any_valid_pa_answer_has_no_service_index(dataset):
    h = figures.headline(nov("T-DEMO-X1"))
    assert h.elements["TC"].value == 100 and h.elements["PA"].value is None
    assert h.sipas.value is None and h.sipas.missing == ("PA",)
    assert h.sipas.reason == "incomplete_elements"
    assert h.respondents == 12 and not h.sipas.suppressed


def test_a_unit_without_a_service_index_is_not_ranked(dataset):
    rows = {r.unit.code: r for r in rankings.ranking(nov("T-DEMO-H1"))}
    assert rows["T-DEMO-X1"].rank is None
    assert (rows["T-DEMO-P1"].rank, rows["T-DEMO-X2"].rank) == (1, 2)


def test_the_api_gives_null_with_a_reason_code(dataset, client):
    auth = _token()
    got = client.get(f"/api/v1/reports/indices?unit=T-DEMO-X1&{MONTH}", headers=auth).get_json()
    for key in ("sipas_index", "service_index"):
        assert got[key]["value"] is None and got[key]["ci95"] is None
        assert got[key]["reason"] == "incomplete_elements"
        assert got[key]["missing_elements"] == ["PA"]
    assert got["elements"]["PA"]["reason"] == "insufficient_sample"  # n = 0
    ranks = client.get(f"/api/v1/reports/rankings?unit=T-DEMO-H1&{MONTH}", headers=auth)
    by_code = {r["unit"]["code"]: r for r in ranks.get_json()["rows"]}
    assert by_code["T-DEMO-X1"]["rank"] is None
    assert by_code["T-DEMO-X1"]["sipas_index"]["reason"] == "incomplete_elements"


def test_dashboard_and_public_page_say_why_in_vietnamese_and_english(dataset, client):
    user("boss", "admin", None)
    login(client, "boss")
    x1 = unit("T-DEMO-X1").id
    h1 = unit("T-DEMO-H1").id
    for path in (f"/admin/dashboard?unit={x1}&{MONTH}", f"/admin/dashboard?unit={h1}&{MONTH}",
                 f"/cong-khai/T-DEMO-X1?{MONTH}", f"/cong-khai/T-DEMO-H1?{MONTH}"):
        vi = client.get(path).get_data(True)
        assert "Chưa đủ 5 yếu tố: thiếu PA" in vi, path
        en = client.get(path + "&lang=en").get_data(True)
        assert "Not all 5 elements: PA missing" in en, path
    page = client.get(f"/admin/dashboard?unit={x1}&{MONTH}").get_data(True)
    assert "100,00%" in page  # the four elements that exist are still shown


def test_the_xlsx_says_why_there_is_no_index(dataset, client):
    user("boss", "admin", None)
    login(client, "boss")
    h1 = unit("T-DEMO-H1").id
    cells = xlsx_cells(client.get(f"/admin/dashboard/export/report.xlsx?unit={h1}&{MONTH}").data)
    rows = {cells[f"A{r}"]: r for r in range(5, 9)}
    assert cells[f"E{rows['T-DEMO-X1']}"] == "chưa đủ 5 yếu tố: thiếu PA"
    assert cells[f"M{rows['T-DEMO-X1']}"] == "—"  # no rank


# --------------------------------------------------------------------------------------------------
# 2. One rounding rule, half up from the exact value, everywhere


def test_figures_are_exact_and_rounded_half_up(dataset):
    h = figures.headline(nov("T-DEMO-X2"))
    assert h.counter_rate.value == Fraction(90625, 1000)
    assert h.sipas.value == Fraction(96875, 1000)
    assert h.counter_rate.as_dict()["value"] == 90.63


def test_pages_show_90_625_as_90_63_in_every_place(dataset, client):
    user("boss", "admin", None)
    login(client, "boss")
    x2, h1 = unit("T-DEMO-X2").id, unit("T-DEMO-H1").id
    pages = {
        "dashboard": f"/admin/dashboard?unit={x2}&{MONTH}",  # headline and trend table
        "ranking": f"/admin/dashboard?unit={h1}&{MONTH}",
        "breakdown": f"/admin/dashboard/breakdown/counter?unit={x2}&{MONTH}",
        "public": f"/cong-khai/T-DEMO-X2?{MONTH}",
        "public ranking": f"/cong-khai/T-DEMO-H1?{MONTH}",
    }
    for name, path in pages.items():
        vi = client.get(path).get_data(True)
        assert "90,63%" in vi and "90,62%" not in vi, name
        en = client.get(path + "&lang=en").get_data(True)
        assert "90.63%" in en and "90.62%" not in en, name
    dashboard = client.get(pages["dashboard"]).get_data(True)
    assert dashboard.count("90,63%") >= 2  # the headline card and the trend table


def test_api_and_xlsx_round_the_same_way(dataset, client):
    auth = _token()
    got = client.get(f"/api/v1/reports/indices?unit=T-DEMO-X2&{MONTH}", headers=auth).get_json()
    assert got["counter_rate"]["value"] == 90.63
    assert got["sipas_index"]["value"] == 96.88
    series = client.get(f"/api/v1/reports/timeseries?unit=T-DEMO-X2&{MONTH}&months=1",
                        headers=auth).get_json()
    assert series["points"][0]["counter_rate"]["value"] == 90.63
    login(client, "boss")
    h1 = unit("T-DEMO-H1").id
    body = client.get(f"/admin/dashboard/export/report.xlsx?unit={h1}&{MONTH}").data
    cells = xlsx_cells(body)
    rows = {cells[f"A{r}"]: r for r in range(5, 9)}
    assert cells[f"K{rows['T-DEMO-X2']}"] == 90.63
    assert cells[f"E{rows['T-DEMO-X2']}"] == 96.88
    with zipfile.ZipFile(io.BytesIO(body)) as z:  # the number itself is rounded, not its format
        assert "<v>90.63</v>" in z.read("xl/worksheets/sheet1.xml").decode()


@pytest.mark.parametrize(
    ("value", "lang", "expected"),
    [
        (Fraction(2900, 32), "vi", "90,63%"),
        (Fraction(2900, 32), "en", "90.63%"),
        (Fraction(1637300, 20000), "vi", "81,87%"),  # 16373/20000 = 81.865 exactly
        (Fraction(1637300, 20000), "en", "81.87%"),
        (81.865, "vi", "81,87%"),  # a float is read as the decimal it prints as
        (12345.675, "vi", "12.345,68%"),
        (0.125, "en", "0.13%"),  # Babel alone (half to even) writes 0.12%
        (None, "vi", "—"),
    ],
)
def test_the_pct_filter_rounds_half_up_then_formats_for_the_locale(app, value, lang, expected):
    from core.i18n import pct

    with app.test_request_context(f"/?lang={lang}"):
        assert pct(value) == expected


# --------------------------------------------------------------------------------------------------
# 3. Ranks on unrounded values, ties shared


def test_ranks_use_unrounded_values_although_both_print_96_88(dataset, client):
    p1 = figures.headline(nov("T-DEMO-P1")).sipas.value
    x2 = figures.headline(nov("T-DEMO-X2")).sipas.value
    assert p1 > x2 and figures.Figure(p1, 12, None, None, False).as_dict()["value"] == 96.88
    rows = {r.unit.code: r.rank for r in rankings.ranking(nov("T-DEMO-H1"))}
    assert (rows["T-DEMO-P1"], rows["T-DEMO-X2"]) == (1, 2)  # not a tie at 96.88
    user("boss", "admin", None)
    login(client, "boss")
    h1 = unit("T-DEMO-H1").id
    page = client.get(f"/admin/dashboard?unit={h1}&{MONTH}").get_data(True)
    ranking = page[page.index('id="ranking"'):]
    assert re.search(r'<td class="num">1</td><th scope="row"><a [^>]*>Phường Đông Thành', ranking)
    assert re.search(r'<td class="num">2</td><th scope="row"><a [^>]*>Xã Hòa Lạc', ranking)


def test_equal_indices_share_a_rank_and_the_next_is_skipped(demo):
    # X2 and P1 reach 96.875 by different counts: X2 with TC1 4/8 and TT1 7/8, P1 with TT1 4/8
    # and TC1 7/8: both (87.5 + 96.875 + 300) / 5. X1 (all 5) is first; ranks 1, 2, 2.
    plans = {
        "T-DEMO-X1": lambda i: {},
        "T-DEMO-X2": lambda i: {"TC1": 5 if i < 4 else 2 if i < 8 else 0,
                                "TT1": 5 if i < 7 else 2 if i == 7 else 0},
        "T-DEMO-P1": lambda i: {"TT1": 5 if i < 4 else 2 if i < 8 else 0,
                                "TC1": 5 if i < 7 else 2 if i == 7 else 0},
    }
    for code, plan in plans.items():
        for i in range(12):
            respond(counter_of(code), NOV, {**{c: 5 for c in ALL}, **plan(i)})
    db.session.commit()
    rows = {r.unit.code: r.rank for r in rankings.ranking(nov("T-DEMO-H1"))}
    assert rows == {"T-DEMO-X1": 1, "T-DEMO-X2": 2, "T-DEMO-P1": 2}


# --------------------------------------------------------------------------------------------------
# 4. SIPAS_MIN_REPORT_N and SIPAS_MIN_OFFICER_N from the environment take effect


_ENV_APPS: list = []


def _env_app(database_url, tmp_path, env: dict[str, str]):
    """An app whose settings come from environment variables; its engine is closed after the
    test (see ``_close_env_apps``), so no connection outlives it."""
    settings = {"SQLALCHEMY_DATABASE_URI": database_url, "INSTANCE_PATH": str(tmp_path / "i"),
                "SECRET_KEY": SECRET, "ROLE": "all", "TESTING": True,
                "WTF_CSRF_ENABLED": False}
    app = create_app(settings, env=env)
    _ENV_APPS.append(app)
    return app


@pytest.fixture(autouse=True)
def _close_env_apps():
    yield
    while _ENV_APPS:
        app = _ENV_APPS.pop()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_min_report_n_from_the_environment_reaches_every_figure(dataset, database_url, tmp_path):
    auth = _token()
    other = _env_app(database_url, tmp_path, {"SIPAS_MIN_REPORT_N": "40"})
    client = other.test_client()
    with other.app_context():
        got = client.get(f"/api/v1/reports/indices?unit=T-DEMO-X2&{MONTH}", headers=auth)
        body = got.get_json()
        assert body["min_report_n"] == 40
        # 12 respondents and 32 taps: both below 40 now.
        assert body["sipas_index"]["reason"] == "insufficient_sample"
        assert body["counter_rate"]["value"] is None
        public = client.get(f"/cong-khai/T-DEMO-X2?{MONTH}").get_data(True)
        assert "90,63%" not in public and "không đủ mẫu" in public
        assert "dưới 40 người trả lời" in public
        login(client, "boss")
        cells = xlsx_cells(client.get(
            f"/admin/dashboard/export/report.xlsx?unit={unit('T-DEMO-X2').id}&{MONTH}").data)
        assert "dưới 40 phiếu" in cells["A2"] and cells["K5"] == "không đủ mẫu"
    # The default (10) shows them.
    with dataset.app_context():
        assert figures.headline(nov("T-DEMO-X2")).counter_rate.shown == Fraction(90625, 1000)


def test_min_officer_n_from_the_environment_hides_officer_figures(demo, database_url, tmp_path):
    from tests.dashboard_support import officer

    counter = counter_of("T-DEMO-X1")
    cb = officer("CB005")
    for i in range(25):
        tap(counter, NOV, 5 if i < 20 else 2, officer_id=cb.id)
    db.session.commit()
    user("boss", "admin", None)
    f = nov("T-DEMO-X1")
    boss = db.session.scalar(db.select(User).where(User.username == "boss"))
    rows = breakdowns.breakdown(boss, f, "officer")
    db.session.commit()  # the caller commits the officer view's audit entry, as the view does
    assert rows[0].counter_rate.shown == 80  # 25 taps >= 20 (the default)
    other = _env_app(database_url, tmp_path, {"SIPAS_MIN_OFFICER_N": "30"})
    with other.app_context():
        client = other.test_client()
        login(client, "boss")
        page = client.get(f"/admin/dashboard/breakdown/officer?unit={unit('T-DEMO-X1').id}"
                          f"&{MONTH}").get_data(True)
        assert "80,00%" not in page and "không đủ mẫu" in page
        assert "chỉ hiển thị từ 30 lượt đánh giá" in page


# --------------------------------------------------------------------------------------------------
# 5. Intervals: Wilson for rates, the delta method for indices, named where they appear


def test_index_intervals_are_delta_method_and_match_the_hand_computation(dataset, client):
    # X2: TC = (50 + 3 × 100) / 4 with TC1 4/8: Var(TC) = (0.5 × 0.5 / 8) / 4² × 100² = 19.53125;
    # TT1 7/8: Var(TT) = (0.875 × 0.125 / 8) / 16 × 100² = 8.544921875; the other elements 0.
    # Var(service) = (19.53125 + 8.544921875) / 25 = 1.123046875;
    # 96.875 ± 1.959964 × 1.059739 = [94.80, 98.95]; TC 87.5 ± 8.66 = [78.84, 96.16].
    auth = _token()
    got = client.get(f"/api/v1/reports/indices?unit=T-DEMO-X2&{MONTH}", headers=auth).get_json()
    assert got["sipas_index"]["ci95"] == [94.8, 98.95]
    assert got["sipas_index"]["ci95_method"] == "delta"
    assert got["elements"]["TC"]["ci95"] == [78.84, 96.16]
    assert got["elements"]["TC"]["ci95_method"] == "delta"
    assert got["counter_rate"]["ci95_method"] == "wilson"


def test_pages_name_the_interval_method(dataset, client):
    user("boss", "admin", None)
    login(client, "boss")
    x2 = unit("T-DEMO-X2").id
    for path in (f"/admin/dashboard?unit={x2}&{MONTH}", f"/cong-khai/T-DEMO-X2?{MONTH}"):
        vi = client.get(path).get_data(True)
        assert "khoảng tin cậy 95% (phương pháp delta) 94,80% – 98,95%" in vi, path
        assert "khoảng tin cậy 95% (Wilson)" in vi, path
        en = client.get(path + "&lang=en").get_data(True)
        assert "95% confidence interval (delta method) 94.80% – 98.95%" in en, path
