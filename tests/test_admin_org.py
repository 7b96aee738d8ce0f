"""Managing the organisation: unit tree, opening hours, counters with kiosk settings, officers."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from core.extensions import db
from core.models import AuditEntry, Counter, Officer, RollupCount, Unit
from core.passwords import verify_pin
from core.services.org import structure as org_service
from tests.support.admin import build_org, sign_in, use_cheap_hashing


@pytest.fixture
def org(app, monkeypatch):
    use_cheap_hashing(monkeypatch)
    return build_org()


@pytest.fixture
def admin_client(client, org):
    sign_in(client, org.admin)
    return client


def audit(action: str) -> list[AuditEntry]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def unit(code: str) -> Unit:
    db.session.expire_all()
    return db.session.scalar(select(Unit).where(Unit.code == code))


COUNTER = {"code": "Q09", "name": "Quầy 09 – Lao động", "scale": "5", "min_interval_s": "8",
           "idle_timeout_s": "20", "followup_timeout_s": "25", "require_transaction": "y"}


# --- units ---------------------------------------------------------------------------------------


def test_a_new_unit_gets_its_place_in_the_tree(admin_client, org):
    response = admin_client.post("/admin/units/new", data={
        "parent_id": org.commune.id, "code": "T-DEMO-X1-TDP", "name": "Tổ dân phố 1",
        "level": "commune"})
    assert response.status_code == 302
    new = unit("T-DEMO-X1-TDP")
    assert new.parent_id == org.commune.id
    assert new.path == f"{org.commune.path}{new.id}/"
    [entry] = audit("unit.create")
    assert entry.unit_id == new.id and entry.details["changes"]["code"] == [None, "T-DEMO-X1-TDP"]


def test_a_unit_code_must_be_unique_and_well_formed(admin_client, org):
    taken = admin_client.post("/admin/units/new", data={
        "parent_id": org.commune.id, "code": "T-DEMO-X2", "name": "Trùng", "level": "commune"})
    assert taken.status_code == 422
    assert "Đã có đơn vị khác mang mã T-DEMO-X2." in taken.get_data(as_text=True)
    spaces = admin_client.post("/admin/units/new", data={
        "parent_id": org.commune.id, "code": "có dấu cách", "name": "X", "level": "commune"})
    assert spaces.status_code == 422
    assert "không có dấu cách" in spaces.get_data(as_text=True)


def test_renaming_keeps_the_id_and_is_audited(admin_client, org):
    response = admin_client.post(f"/admin/units/{org.commune.id}", data={
        "code": "T-DEMO-X1", "name": "Phường Tân Phú", "level": "commune"})
    assert response.status_code == 302
    assert unit("T-DEMO-X1").name == "Phường Tân Phú"
    [entry] = audit("unit.update")
    assert entry.details["changes"] == {"name": ["Xã Tân Phú", "Phường Tân Phú"]}


def test_moving_a_unit_rewrites_the_paths_of_its_whole_subtree(admin_client, org):
    below = [unit(code) for code in ("T-DEMO-X1", "T-DEMO-X2", "T-DEMO-P1")]
    response = admin_client.post(f"/admin/units/{org.district.id}/move",
                                 data={"parent_id": org.centre.id})
    assert response.status_code == 302
    district = unit("T-DEMO-H1")
    assert district.parent_id == org.centre.id
    assert district.path == f"{org.centre.path}{district.id}/"
    for child in below:
        moved = unit(child.code)
        assert moved.path == f"{district.path}{moved.id}/"
    # Scope follows the tree: the centre's manager now sees the district's communes.
    from core.services.org.scope import can_see

    assert can_see(db.session.get(type(org.manager), org.manager.id), unit("T-DEMO-X1"))
    [entry] = audit("unit.move")
    assert entry.details["changes"]["parent_id"] == [org.province.id, org.centre.id]


def test_a_unit_cannot_move_under_its_own_descendant(admin_client, org):
    before = {u.code: u.path for u in db.session.scalars(select(Unit))}
    response = admin_client.post(f"/admin/units/{org.district.id}/move",
                                 data={"parent_id": org.commune.id})
    assert response.status_code == 422
    assert "Không thể chuyển một đơn vị vào chính nó" in response.get_data(as_text=True)
    itself = admin_client.post(f"/admin/units/{org.district.id}/move",
                               data={"parent_id": org.district.id})
    assert itself.status_code == 422
    db.session.expire_all()
    assert {u.code: u.path for u in db.session.scalars(select(Unit))} == before
    assert audit("unit.move") == []


def test_an_administrator_may_make_a_unit_top_level(admin_client, org):
    assert admin_client.post(f"/admin/units/{org.district.id}/move",
                             data={"parent_id": 0}).status_code == 302
    district = unit("T-DEMO-H1")
    assert district.parent_id is None and district.path == f"/{district.id}/"
    assert unit("T-DEMO-X1").path.startswith(district.path)


def test_deactivating_a_unit_keeps_its_history(admin_client, org):
    db.session.add(RollupCount(unit_id=org.commune.id, day=date(2026, 11, 30), channel="kiosk",
                               item_code="TAP", level=5, count=7))
    db.session.commit()
    assert admin_client.post(f"/admin/units/{org.commune.id}/deactivate").status_code == 302
    commune = unit("T-DEMO-X1")
    assert commune.active is False
    assert db.session.scalar(select(RollupCount.count).where(
        RollupCount.unit_id == commune.id)) == 7
    assert db.session.scalar(select(Counter).where(Counter.unit_id == commune.id)) is not None
    listing = admin_client.get("/admin/units/").get_data(as_text=True)
    assert "Xã Tân Phú" in listing and "Ngừng sử dụng" in listing
    assert admin_client.post(f"/admin/units/{org.commune.id}/activate").status_code == 302
    assert unit("T-DEMO-X1").active is True
    assert [len(audit(a)) for a in ("unit.deactivate", "unit.activate")] == [1, 1]


def test_opening_hours_are_saved_per_weekday(admin_client, org):
    response = admin_client.post(f"/admin/units/{org.commune.id}/hours", data={
        "mon": "07:30-11:30, 13:30-17:00", "sat": "07:30 - 11:30", "sun": ""})
    assert response.status_code == 302
    assert unit("T-DEMO-X1").opening_hours == {
        "mon": [["07:30", "11:30"], ["13:30", "17:00"]], "sat": [["07:30", "11:30"]]}
    [entry] = audit("unit.hours")
    assert entry.details["changes"]["opening_hours"][1]["sat"] == [["07:30", "11:30"]]


@pytest.mark.parametrize(("text", "message"), [
    ("7h30 đến 11h", "Ghi giờ làm việc theo dạng"),
    ("11:30-07:30", "Giờ kết thúc phải sau giờ bắt đầu"),
    ("07:30-11:30, 11:00-17:00", "không chồng lên nhau"),
    ("25:00-26:00", "Ghi giờ làm việc theo dạng"),
])
def test_bad_opening_hours_say_which_day_and_why(admin_client, org, text, message):
    before = unit("T-DEMO-X1").opening_hours
    response = admin_client.post(f"/admin/units/{org.commune.id}/hours",
                                 data={"mon": "07:30-11:30", "tue": text})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert unit("T-DEMO-X1").opening_hours == before


# --- counters ------------------------------------------------------------------------------------


def test_a_manager_adds_a_counter_with_its_kiosk_settings(client, org):
    sign_in(client, org.manager)
    response = client.post(f"/admin/units/{org.centre.id}/counters/new", data=COUNTER)
    assert response.status_code == 302
    counter = db.session.scalar(select(Counter).where(Counter.code == "Q09"))
    assert (counter.unit_id, counter.scale, counter.min_interval_s, counter.require_transaction,
            counter.idle_timeout_s, counter.followup_timeout_s) == (
        org.centre.id, 5, 8, True, 20, 25)
    [entry] = audit("counter.create")
    assert entry.user_id == org.manager.id and entry.details["changes"]["scale"] == [None, 5]


@pytest.mark.parametrize(("field", "value", "message"), [
    ("scale", "4", "Lựa chọn không hợp lệ."),
    ("idle_timeout_s", "1", "Số phải nằm trong khoảng từ 5 đến 600."),
    ("min_interval_s", "năm", "Phải là số nguyên."),
    ("code", "Q01", "Đơn vị đã có quầy mang mã Q01."),
    ("name", "", "Trường này là bắt buộc."),
])
def test_bad_counter_settings_are_refused_with_a_reason(admin_client, org, field, value,
                                                         message):
    response = admin_client.post(f"/admin/units/{org.centre.id}/counters/new",
                                 data=COUNTER | {field: value})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(Counter).where(Counter.code == "Q09")) is None


def test_changing_kiosk_settings_is_audited_field_by_field(admin_client, org):
    response = admin_client.post(f"/admin/counters/{org.counter.id}", data={
        "code": "Q01", "name": org.counter.name, "active": "y", "scale": "5",
        "min_interval_s": "5", "idle_timeout_s": "15", "followup_timeout_s": "20"})
    assert response.status_code == 302
    [entry] = audit("counter.update")
    assert entry.details["changes"] == {"scale": [3, 5]}


def test_a_counter_is_deactivated_not_deleted(admin_client, org):
    response = admin_client.post(f"/admin/counters/{org.counter.id}", data={
        "code": "Q01", "name": org.counter.name, "scale": "3", "min_interval_s": "5",
        "idle_timeout_s": "15", "followup_timeout_s": "20"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Counter, org.counter.id).active is False


# --- officers ------------------------------------------------------------------------------------


def test_an_officers_pin_is_stored_hashed_and_never_shown(admin_client, org):
    response = admin_client.post(f"/admin/units/{org.centre.id}/officers/new", data={
        "code": "CB100", "full_name": "Ngô Văn Tâm", "counter_id": org.counter.id,
        "pin": "482913"})
    assert response.status_code == 302
    officer = db.session.scalar(select(Officer).where(Officer.code == "CB100"))
    assert officer.pin_hash.startswith("$argon2id$") and verify_pin(officer.pin_hash, "482913")
    assert officer.counter_id == org.counter.id
    pages = [admin_client.get(f"/admin/units/{org.centre.id}/officers"),
             admin_client.get(f"/admin/officers/{officer.id}")]
    for page in pages:
        html = page.get_data(as_text=True)
        assert "Ngô Văn Tâm" in html or "CB100" in html
        assert "482913" not in html and officer.pin_hash not in html
    [entry] = audit("officer.create")
    assert "482913" not in str(entry.details) and officer.pin_hash not in str(entry.details)
    assert entry.details["changes"]["pin_set"] == [False, True]


def test_an_empty_pin_keeps_the_current_one_and_a_new_one_is_audited_without_its_value(
    admin_client, org
):
    old_hash = org.officer.pin_hash
    keep = admin_client.post(f"/admin/officers/{org.officer.id}", data={
        "full_name": "Nguyễn Thị Lan Anh", "counter_id": org.counter.id, "active": "y",
        "pin": ""})
    assert keep.status_code == 302
    db.session.expire_all()
    officer = db.session.get(Officer, org.officer.id)
    assert officer.pin_hash == old_hash and officer.full_name == "Nguyễn Thị Lan Anh"
    change = admin_client.post(f"/admin/officers/{org.officer.id}", data={
        "full_name": "Nguyễn Thị Lan Anh", "counter_id": org.counter.id, "active": "y",
        "pin": "7391"})
    assert change.status_code == 302
    db.session.expire_all()
    assert verify_pin(db.session.get(Officer, org.officer.id).pin_hash, "7391")
    entries = audit("officer.update")
    assert entries[-1].details["changes"] == {"pin_changed": [False, True]}
    assert "7391" not in str([e.details for e in entries])


@pytest.mark.parametrize(("data", "message"), [
    ({"pin": "12ab"}, "Từ 4 đến 8 chữ số."),
    ({"pin": "123"}, "Từ 4 đến 8 chữ số."),
    ({"code": "CB001"}, "Đơn vị đã có công chức mang mã CB001."),
    ({"counter_id": "999999"}, "Lựa chọn không hợp lệ."),
])
def test_bad_officer_data_is_refused(admin_client, org, data, message):
    body = {"code": "CB200", "full_name": "Tên", "counter_id": "0", "pin": "1234"} | data
    response = admin_client.post(f"/admin/units/{org.centre.id}/officers/new", data=body)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(Officer).where(Officer.code == "CB200")) is None


def test_the_officer_list_filters_by_counter(admin_client, org):
    other = db.session.scalar(select(Counter).where(Counter.unit_id == org.centre.id,
                                                    Counter.code == "Q02"))
    html = admin_client.get(
        f"/admin/units/{org.centre.id}/officers?counter={other.id}").get_data(as_text=True)
    assert "CB003" in html and "CB001" not in html


def test_a_viewer_sees_a_unit_without_the_forms_that_change_it(client, org):
    sign_in(client, org.viewer)
    html = client.get(f"/admin/units/{org.centre.id}").get_data(as_text=True)
    assert "Quầy 01 – Tư pháp" in html
    assert "/move" not in html and "/deactivate" not in html and "counters/new" not in html


def test_a_duplicate_that_races_past_the_check_is_a_409_and_leaves_nothing(
    admin_client, org, monkeypatch
):
    """Two managers adding the same counter at once: the unique key keeps one, no 500."""
    monkeypatch.setattr(org_service, "_unique_counter_code", lambda *args, **kwargs: None)
    response = admin_client.post(f"/admin/units/{org.centre.id}/counters/new",
                                 data=COUNTER | {"code": "Q01"})
    assert response.status_code == 409
    assert "Thao tác này đã được thực hiện trước đó" in response.get_data(as_text=True)
    db.session.expire_all()
    assert len(db.session.scalars(select(Counter).where(
        Counter.unit_id == org.centre.id, Counter.code == "Q01")).all()) == 1
    assert audit("counter.create") == []


def test_a_form_sent_twice_creates_one_row(admin_client, org):
    """A double click or a browser resend must not make two counters or two officers."""
    first = admin_client.post(f"/admin/units/{org.centre.id}/counters/new", data=COUNTER)
    again = admin_client.post(f"/admin/units/{org.centre.id}/counters/new", data=COUNTER)
    assert (first.status_code, again.status_code) == (302, 422)
    officer = {"code": "CB300", "full_name": "Lý Thị Hoa", "counter_id": "0", "pin": "2468"}
    statuses = [admin_client.post(f"/admin/units/{org.centre.id}/officers/new",
                                  data=officer).status_code for _ in range(2)]
    assert statuses == [302, 422]
    db.session.expire_all()
    assert len(db.session.scalars(select(Counter).where(Counter.code == "Q09")).all()) == 1
    assert len(db.session.scalars(select(Officer).where(Officer.code == "CB300")).all()) == 1
    assert [len(audit("counter.create")), len(audit("officer.create"))] == [1, 1]
    # Moving twice to the same parent changes (and audits) once.
    for _ in range(2):
        assert admin_client.post(f"/admin/units/{org.district.id}/move",
                                 data={"parent_id": org.centre.id}).status_code == 302
    assert len(audit("unit.move")) == 1


def test_validation_answers_in_the_readers_language(admin_client, org):
    response = admin_client.post(f"/admin/units/{org.centre.id}/counters/new",
                                 data=COUNTER | {"idle_timeout_s": "1", "name": ""},
                                 headers={"Accept-Language": "en"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Number must be between 5 and 600." in html
    assert "This field is required." in html and "Trường này" not in html
