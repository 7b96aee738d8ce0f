"""The procedure catalogue and its CSV import: every row checked, nothing saved from a bad file."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from core.extensions import db
from core.models import AuditEntry, Procedure, ProcedureField
from tests.support.admin import build_org, sign_in, use_cheap_hashing


@pytest.fixture
def org(app, monkeypatch):
    use_cheap_hashing(monkeypatch)
    return build_org()


@pytest.fixture
def admin_client(client, org):
    sign_in(client, org.admin)
    return client


def upload(client, text: str | bytes, kind: str = "procedures", name: str = "thu-tuc.csv"):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return client.post("/admin/catalog/import", data={
        "kind": kind, "file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def procedures() -> dict[str, tuple]:
    db.session.expire_all()
    return {p.code: (p.name, p.field.code if p.field else None, p.active)
            for p in db.session.scalars(select(Procedure))}


def test_a_good_file_adds_new_codes_and_updates_existing_ones(admin_client, org):
    before = procedures()
    response = upload(admin_client, "\ufeffcode,name,field_code,active\n"
                      "HT-004,Đăng ký nhận cha mẹ con,HT,1\n"
                      "HT-001,Đăng ký khai sinh (sửa),HT,\n"
                      "CT-002,\"Chứng thực chữ ký, văn bản\",CT,0\n"
                      "DD-001,Đăng ký biến động quyền sử dụng đất,DD,1\n")
    assert response.status_code == 302
    after = procedures()
    assert after["HT-004"] == ("Đăng ký nhận cha mẹ con", "HT", True)
    assert after["HT-001"] == ("Đăng ký khai sinh (sửa)", "HT", True)
    assert after["CT-002"] == ("Chứng thực chữ ký, văn bản", "CT", False)
    assert len(after) == len(before) + 1
    [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "catalog.import"))
    assert entry.details == {"file": "thu-tuc.csv", "created": 1, "updated": 2, "unchanged": 1}
    flash = admin_client.get("/admin/catalog/procedures").get_data(as_text=True)
    assert "Đã nhập: 1 mới, 2 thay đổi, 1 không đổi." in flash


def test_a_file_with_bad_rows_imports_nothing_and_names_each_bad_line(admin_client, org):
    before = procedures()
    response = upload(admin_client, "code,name,field_code\n"
                      "HT-010,Thủ tục hợp lệ,HT\n"      # line 2: good
                      "HT 011,Mã có dấu cách,HT\n"      # line 3: bad code
                      "HT-012,,HT\n"                    # line 4: no name
                      "\n"                              # line 5: blank, allowed
                      "HT-013,Lĩnh vực lạ,KHONGCO\n"    # line 6: unknown field
                      "HT-010,Trùng mã,HT\n"            # line 7: duplicate of line 2
                      "HT-014,Thừa cột,HT,1,2\n")       # line 8: too many values
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Chưa nhập gì: tệp có lỗi" in html
    for line, message in [
        (3, "Mã gồm 1 đến 60 chữ cái"),
        (4, "Tên có từ 1 đến 500 ký tự."),
        (6, "Không có lĩnh vực KHONGCO."),
        (7, "Mã HT-010 đã có ở dòng 2."),
        (8, "Dòng này có 5 giá trị; dòng tiêu đề có 3."),
    ]:
        assert f"<strong>Dòng {line}:</strong> {message}" in html, line
    assert "Dòng 2:" not in html and "Dòng 5:" not in html
    assert procedures() == before
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "catalog.import")) == 0


def test_line_numbers_count_quoted_values_that_span_lines(admin_client, org):
    response = upload(admin_client, 'code,name,field_code\n'
                      'HT-020,"Tên\nhai dòng",HT\n'
                      'HT-021,,HT\n')
    assert response.status_code == 422
    assert "<strong>Dòng 4:</strong>" in response.get_data(as_text=True)


@pytest.mark.parametrize(("content", "message"), [
    ("", "Tệp trống."),
    ("code,ten\nHT-030,Tên\n", "Dòng 1: tiêu đề phải có các cột code, name, field_code"),
    ("code,name,field_code,extra\n", "Dòng 1: có cột không hợp lệ extra."),
    ("code,name,field_code\n", "Tệp không có dòng nào để nhập."),
    ("code,name,field_code\nHT-031,Đăng,HT\n".encode("cp1258"),
     "Dòng 2 không phải văn bản UTF-8"),
    ("code,name,field_code\nHT-032,\"không đóng ngoặc,HT\n", "kiểm tra dấu ngoặc kép"),
])
def test_an_unusable_file_is_refused_with_a_reason(admin_client, org, content, message):
    before = procedures()
    response = upload(admin_client, content)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert procedures() == before


def test_a_semicolon_separated_file_from_excel_is_read(admin_client, org):
    response = upload(admin_client, "code;name;field_code\nLLTP-002;Cấp Phiếu lý lịch số 2;LLTP\n")
    assert response.status_code == 302
    assert procedures()["LLTP-002"] == ("Cấp Phiếu lý lịch số 2", "LLTP", True)


def test_fields_are_imported_too(admin_client, org):
    response = upload(admin_client, "code,name\nTP,Tư pháp\nHT,Hộ tịch (đổi tên)\n",
                      kind="fields")
    assert response.status_code == 302
    db.session.expire_all()
    names = dict(db.session.execute(select(ProcedureField.code, ProcedureField.name)).all())
    assert names["TP"] == "Tư pháp" and names["HT"] == "Hộ tịch (đổi tên)"


def test_a_file_is_required(admin_client, org):
    response = admin_client.post("/admin/catalog/import", data={"kind": "procedures"},
                                 content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Hãy chọn một tệp." in response.get_data(as_text=True)


def test_one_procedure_is_added_and_changed_through_its_form(admin_client, org):
    field_id = db.session.scalar(select(ProcedureField.id).where(ProcedureField.code == "HT"))
    response = admin_client.post("/admin/catalog/procedures/new", data={
        "code": "HT-050", "name": "Đăng ký giám hộ", "field_id": field_id, "active": "y"})
    assert response.status_code == 302
    row = db.session.scalar(select(Procedure).where(Procedure.code == "HT-050"))
    response = admin_client.post(f"/admin/catalog/procedures/{row.id}", data={
        "code": "HT-999", "name": "Đăng ký giám hộ", "field_id": 0})  # the code stays
    assert response.status_code == 302
    assert procedures()["HT-050"] == ("Đăng ký giám hộ", None, False)
    assert "HT-999" not in procedures()
    entries = list(db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "catalog.procedure").order_by(AuditEntry.id)))
    assert entries[-1].details["changes"] == {"field_id": [field_id, None],
                                              "active": [True, False]}


def test_a_field_is_added_through_its_form_and_audited(admin_client, org):
    response = admin_client.post("/admin/catalog/fields", data={"code": "XD", "name": "Xây dựng"})
    assert response.status_code == 302
    [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "catalog.field"))
    assert entry.details["changes"]["name"] == [None, "Xây dựng"]


def test_managers_do_not_edit_the_national_catalogue(client, org):
    sign_in(client, org.manager)
    assert upload(client, "code,name,field_code\nHT-060,Tên,HT\n").status_code == 403
    assert "HT-060" not in procedures()
