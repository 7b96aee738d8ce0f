"""The SIPAS-style index with the policy module, computed by hand and read back from the
dashboard, the reporting API, the XLSX report and the public page.

Xã Tân Phú (X1), November 2026. Ten respondents answered a policy-enabled version:
- service items: 5 for respondents 0-7, 3 for 8-9;
- PL1, PL2 (PGT): 5 for 0-8, 2 for 9            -> 9/10 = 90
- PL3, PL4 (PTG): 5 for 0-6, 2 for 7-9          -> 7/10 = 70
- PL5..PL12 (PCL): 4 for 0-5, 1 for 6-9         -> 6/10 = 60
- PL13, PL14 (PKQ): 5 for 0-7, 3 for 8-9        -> 8/10 = 80
  policy index = (90 + 70 + 60 + 80) / 4 = 75, on n = 10.
One more respondent answered a service-only version, all 5: every service item 9/11, so the
service index = 900/11 = 81.8181... on 11 respondents.
SIPAS-style index = (81.8181... + 75) / 2 = 78.409... -> 78.41 (docs/METHOD.md, the indices).
"""

from __future__ import annotations

from datetime import date

import pytest

from core.extensions import db
from core.services.accounts import api_tokens
from core.services.reporting import figures, filters, periods
from core.sipas import round2
from tests.dashboard_support import counter_of, login, respond, unit, user
from tests.test_dashboard_figures import ALL, xlsx_cells

NOV = date(2026, 11, 10)
POLICY = {"PGT": ["PL1", "PL2"], "PTG": ["PL3", "PL4"],
          "PCL": [f"PL{i}" for i in range(5, 13)], "PKQ": ["PL13", "PL14"]}
SERVICE = 900 / 11
POLICY_INDEX = (90 + 70 + 60 + 80) / 4
COMBINED = (SERVICE + POLICY_INDEX) / 2


def policy_respondent(i: int) -> dict[str, int]:
    answers = {code: 5 if i < 8 else 3 for code in ALL}
    answers.update({c: 5 if i < 9 else 2 for c in POLICY["PGT"]})
    answers.update({c: 5 if i < 7 else 2 for c in POLICY["PTG"]})
    answers.update({c: 4 if i < 6 else 1 for c in POLICY["PCL"]})
    answers.update({c: 5 if i < 8 else 3 for c in POLICY["PKQ"]})
    return answers


@pytest.fixture
def dataset(demo):
    x1 = counter_of("T-DEMO-X1")
    for i in range(10):
        respond(x1, NOV, policy_respondent(i))
    respond(x1, NOV, {code: 5 for code in ALL})
    # A misuse-flagged policy response must not move the policy index.
    respond(x1, NOV, {code: 1 for code in [*ALL, *(c for codes in POLICY.values() for c in codes)]},
            misuse="rate_limited")
    db.session.commit()
    return demo


def nov(code: str) -> filters.Filters:
    return filters.Filters(unit(code), periods.month_period(2026, 11))


def test_the_headline_combines_policy_and_service_indices(dataset):
    h = figures.headline(nov("T-DEMO-X1"))
    assert round(COMBINED, 2) == 78.41
    assert h.basis == "service+policy"
    assert round2(h.service.value) == round(SERVICE, 2) == 81.82
    assert h.policy.value == POLICY_INDEX and h.policy.n == 10 and not h.policy.suppressed
    assert {k: v.value for k, v in h.policy_elements.items()} == {
        "PGT": 90.0, "PTG": 70.0, "PCL": 60.0, "PKQ": 80.0}
    assert round2(h.sipas.value) == 78.41 and h.sipas.n == 11 and not h.sipas.suppressed
    assert h.method_version == "sipas-2023.1"


def test_without_policy_answers_the_index_is_the_service_index(demo):
    x1 = counter_of("T-DEMO-X1")
    for i in range(10):
        respond(x1, NOV, {code: 5 if i < 8 else 3 for code in ALL})
    db.session.commit()
    h = figures.headline(nov("T-DEMO-X1"))
    assert h.policy is None and h.policy_elements == {} and h.basis == "service"
    assert h.sipas.value == h.service.value == 80.0


def test_an_insufficient_policy_sample_withholds_the_combined_index(demo):
    x1 = counter_of("T-DEMO-X1")
    for i in range(12):
        answers = {code: 5 for code in ALL}
        if i < 4:  # only four answered the policy module: below MIN_REPORT_N
            answers.update({c: 5 for codes in POLICY.values() for c in codes})
        respond(x1, NOV, answers)
    db.session.commit()
    h = figures.headline(nov("T-DEMO-X1"))
    assert not h.service.suppressed and h.service.value == 100.0
    assert h.policy.n == 4 and h.policy.suppressed
    assert h.basis == "service+policy" and h.sipas.suppressed and h.sipas.shown is None


def test_dashboard_and_public_page_show_both_indices(dataset, client):
    user("boss", "admin", None)
    login(client, "boss")
    x1 = unit("T-DEMO-X1").id
    html = client.get(f"/admin/dashboard?unit={x1}&period=month&value=2026-11").get_data(True)
    sipas_card = html.split('data-figure="sipas"', 1)[1].split("</div>", 1)[0]
    assert "78,41%" in sipas_card and "sipas-2023.1" in sipas_card
    assert "Trung bình của chỉ số chính sách và chỉ số phục vụ" in sipas_card
    assert "81,82%" in html.split('data-figure="service"', 1)[1].split("</div>", 1)[0]
    assert "75,00%" in html.split('data-figure="policy"', 1)[1].split("</div>", 1)[0]
    table = html.split('data-table="policy-elements"', 1)[1].split("</table>", 1)[0]
    assert "90,00%" in table and "60,00%" in table
    public = client.get("/cong-khai/T-DEMO-X1?period=month&value=2026-11&lang=en").get_data(True)
    card = public.split('data-figure="sipas"', 1)[1].split("</div>", 1)[0]
    assert "78.41%" in card and "sipas-2023.1" in card and "policy index" in card
    assert "75.00%" in public.split('data-figure="policy"', 1)[1].split("</div>", 1)[0]


def test_the_api_names_the_basis_and_method_of_each_figure(dataset, client):
    token = api_tokens.create(user("api", "manager", "T-DEMO-X1"), "reporting")
    db.session.commit()  # the service flushes; the test commits
    auth = {"Authorization": f"Bearer {token}"}
    body = client.get("/api/v1/reports/indices?period=month&value=2026-11",
                      headers=auth).get_json()
    assert body["sipas_index"]["value"] == 78.41
    assert body["sipas_index"]["basis"] == "service+policy"
    assert body["sipas_index"]["method_version"] == body["method_version"] == "sipas-2023.1"
    assert body["service_index"]["value"] == 81.82 and body["policy_index"]["value"] == 75.0
    assert body["policy_elements"]["PCL"]["value"] == 60.0
    series = client.get("/api/v1/reports/timeseries?period=month&value=2026-11&months=1",
                        headers=auth).get_json()
    assert series["method_version"] == "sipas-2023.1"
    assert series["points"][0]["sipas_index"] == {**series["points"][0]["sipas_index"],
                                                  "value": 78.41, "basis": "service+policy"}


def test_the_xlsx_report_carries_both_indices_and_the_method(dataset, client):
    user("boss", "admin", None)
    login(client, "boss")
    x1 = unit("T-DEMO-X1").id
    cells = xlsx_cells(client.get(
        f"/admin/dashboard/export/report.xlsx?unit={x1}&period=month&value=2026-11").data)
    assert (cells["Q4"], cells["R4"], cells["T4"]) == (
        "Chỉ số hài lòng về sự phục vụ (%)", "Chỉ số hài lòng về chính sách (%)", "Phương pháp")
    assert (cells["E5"], cells["Q5"], cells["R5"]) == (78.41, 81.82, 75.0)
    assert cells["S5"] == "Trung bình chỉ số chính sách và chỉ số phục vụ"
    assert cells["T5"] == "sipas-2023.1"


def test_flagged_or_no_opinion_policy_answers_leave_the_service_index(demo):
    x1 = counter_of("T-DEMO-X1")
    for _ in range(10):
        respond(x1, NOV, {**{code: 5 for code in ALL}, "PL1": 0, "PL2": 0})
    respond(x1, NOV, {code: 1 for codes in POLICY.values() for code in codes},
            misuse="rate_limited")
    db.session.commit()
    h = figures.headline(nov("T-DEMO-X1"))
    assert h.policy is None and h.basis == "service" and h.sipas.value == 100.0
    with_misuse = figures.headline(filters.Filters(
        unit("T-DEMO-X1"), periods.month_period(2026, 11), include_misuse=True))
    assert with_misuse.basis == "service+policy" and with_misuse.policy.value == 0.0
    assert with_misuse.policy.suppressed and with_misuse.sipas.suppressed
