"""Exports: UTF-8 with BOM, streamed page by page from a generator, scoped, masked and audited."""

from __future__ import annotations

import csv
import inspect
import io
import tracemalloc
from datetime import date

import pytest
from sqlalchemy import func, select

from core.extensions import db
from core.models import AuditEntry, KioskRating, SurveyResponse, User
from core.services.reporting import exports, filters, periods
from demo import history as demo_data
from tests.dashboard_support import counter_of, login, officer, respond, tap, unit, user

DAY = date(2026, 11, 3)
NOV = "period=month&value=2026-11"


@pytest.fixture
def data(demo):
    centre = counter_of("T-DEMO-TTHCC")
    for i in range(30):
        tap(centre, DAY, 5 if i % 3 else 2, officer_id=officer("CB001").id,
            reasons=["waiting_time"] if i % 3 == 0 else None)
    tap(centre, DAY, 5, misuse="too_fast")
    respond(centre, DAY, {"TC1": 5, "CC2": 0}, comment="Số tôi là 0912345678, Đỗ Thị Ánh")
    db.session.commit()
    user("m", "manager", "T-DEMO-TTHCC")
    user("v", "viewer", "T-DEMO-TTHCC")
    return demo


def rows_of(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM first, so Excel reads Vietnamese"
    return list(csv.reader(io.StringIO(body[3:].decode("utf-8"))))


def test_ratings_csv_has_a_bom_every_non_misuse_row_and_is_audited(data, client):
    login(client, "m")
    centre = unit("T-DEMO-TTHCC").id
    response = client.get(f"/admin/dashboard/export/ratings.csv?unit={centre}&{NOV}")
    assert response.status_code == 200 and response.is_streamed
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = rows_of(response.data)
    assert rows[0][-1] == "officer" and len(rows) == 1 + 30
    assert {r[-1] for r in rows[1:]} == {"CB001"}
    assert sum(r[11] == "waiting_time" for r in rows[1:]) == 10
    with_misuse = rows_of(client.get(
        f"/admin/dashboard/export/ratings.csv?unit={centre}&{NOV}&misuse=1").data)
    assert len(with_misuse) == 1 + 31
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "export.ratings")) == 2


def test_viewers_export_without_officers_or_comments(data, client):
    login(client, "v")
    centre = unit("T-DEMO-TTHCC").id
    ratings = rows_of(client.get(f"/admin/dashboard/export/ratings.csv?unit={centre}&{NOV}").data)
    assert "officer" not in ratings[0]
    responses = rows_of(client.get(
        f"/admin/dashboard/export/responses.csv?unit={centre}&{NOV}").data)
    assert responses[1][-1] == ""


def test_responses_csv_masks_numbers_and_keeps_vietnamese(data, client):
    login(client, "m")
    centre = unit("T-DEMO-TTHCC").id
    rows = rows_of(client.get(f"/admin/dashboard/export/responses.csv?unit={centre}&{NOV}").data)
    header, row = rows[0], rows[1]
    assert row[header.index("TC1")] == "5" and row[header.index("CC2")] == "0"
    assert row[header.index("TT1")] == ""  # not asked
    assert row[-1] == "Số tôi là ••••••••••, Đỗ Thị Ánh"


def test_csv_is_a_generator_reading_one_page_at_a_time(demo):
    demo_data.generate(2400, 60, months=1, seed=3, today=date(2026, 12, 1))
    admin = user("root", "admin", None)
    f = filters.Filters(unit("T-DEMO"), periods.month_period(2026, 11), include_misuse=True)
    total = db.session.scalar(select(func.count()).select_from(KioskRating))
    stream = exports.ratings_csv(admin, f, page=250)
    assert inspect.isgenerator(stream)
    chunks = list(stream)
    # The header, then one chunk per page of at most 250 rows: memory bounded by the page.
    assert len(chunks) == 1 + -(-total // 250)
    assert all(chunk.count("\r\n") <= 250 for chunk in chunks[1:])
    assert sum(chunk.count("\r\n") for chunk in chunks) == 1 + total
    responses = list(exports.responses_csv(admin, f, page=25))
    assert len(responses) == 1 + -(-db.session.scalar(
        select(func.count()).select_from(SurveyResponse)) // 25)


def test_streaming_memory_does_not_grow_with_the_number_of_rows(demo):
    demo_data.generate(4000, 0, months=1, seed=5, today=date(2026, 12, 1))
    admin = user("root", "admin", None)
    whole = filters.Filters(unit("T-DEMO"), periods.month_period(2026, 11))
    first_days = filters.Filters(unit("T-DEMO"), periods.Period(
        "custom", date(2026, 11, 1), date(2026, 11, 6)))

    def peak(f) -> tuple[int, int]:
        rows = 0
        tracemalloc.start()
        for chunk in exports.ratings_csv(admin, f, page=200):
            rows += chunk.count("\r\n")
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return rows, top

    peak(first_days)  # warm the statement caches
    few, few_peak = peak(first_days)
    many, many_peak = peak(whole)
    assert many > 3 * few
    # Constant memory: several times the rows, about the same peak (one page at a time).
    assert many_peak < 2 * few_peak


def test_xlsx_export_is_audited_and_scoped(data, client):
    login(client, "m")
    centre = unit("T-DEMO-TTHCC").id
    response = client.get(f"/admin/dashboard/export/report.xlsx?unit={centre}&{NOV}")
    assert response.status_code == 200 and response.data[:2] == b"PK"
    assert response.mimetype.endswith("spreadsheetml.sheet")
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "export.xlsx"))
    assert entry.unit_id == centre and entry.details["period"] == "2026-11"
    assert entry.user_id == db.session.scalar(select(User.id).where(User.username == "m"))
    assert client.get(f"/admin/dashboard/export/report.xlsx?unit={unit('T-DEMO').id}"
                      f"&{NOV}").status_code == 404
    assert client.get(f"/admin/dashboard/export/other.csv?unit={centre}").status_code == 400
