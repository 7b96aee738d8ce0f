"""Who may open what: each role on each page, another unit's ids in every URL, CSRF on every form.

Scope is enforced in the services, so a manager of the district who types the service centre's
ids into any address gets 404 (the same as a missing id) and changes nothing.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from werkzeug.exceptions import NotFound

from core.extensions import db
from core.models import AuditEntry, Counter, Officer, Unit, User
from core.services.accounts.users import create_account
from core.services.org import structure as org_service
from tests.conftest import csrf_token
from tests.support.admin import Org, build_org, sign_in, use_cheap_hashing

ALL = ("admin", "manager", "viewer")
MANAGERS = ("admin", "manager")
ADMIN = ("admin",)

# (URL template, roles that may open it). Ids are those of the service centre's objects.
PAGES = [
    ("/admin/", ALL),
    ("/admin/units/", ALL),
    ("/admin/units/{centre}", ALL),
    ("/admin/units/new", MANAGERS),
    ("/admin/units/{centre}/hours", MANAGERS),
    ("/admin/units/{centre}/counters/new", MANAGERS),
    ("/admin/counters/{counter}", MANAGERS),
    ("/admin/counters/{counter}/poster", MANAGERS),
    ("/admin/counters/{counter}/poster.svg", MANAGERS),
    ("/admin/counters/{counter}/poster.png", MANAGERS),
    ("/admin/units/{centre}/officers", MANAGERS),
    ("/admin/units/{centre}/officers?counter={counter}", MANAGERS),
    ("/admin/units/{centre}/officers/new", MANAGERS),
    ("/admin/officers/{officer}", MANAGERS),
    ("/admin/users/", MANAGERS),
    ("/admin/users/new", MANAGERS),
    ("/admin/users/{viewer}", MANAGERS),
    ("/admin/catalog/procedures", ADMIN),
    ("/admin/catalog/procedures/new", ADMIN),
    ("/admin/catalog/fields", ADMIN),
    ("/admin/catalog/import", ADMIN),
    ("/admin/audit/", ADMIN),
    ("/admin/questionnaires/", ALL),
    ("/admin/questionnaires/{questionnaire}", ALL),
    ("/admin/account/password", ALL),
]

# Every form that changes something, with a valid body (ids of the service centre's objects).
POSTS = [
    ("/admin/units/{centre}", {"code": "X", "name": "Đổi tên", "level": "service_centre"}),
    ("/admin/units/{centre}/move", {"parent_id": "{district}"}),
    ("/admin/units/{centre}/deactivate", {}),
    ("/admin/units/{centre}/activate", {}),
    ("/admin/units/{centre}/hours", {"mon": "07:00-11:00"}),
    ("/admin/units/{centre}/counters/new", {
        "code": "Q99", "name": "Quầy 99", "scale": "3", "min_interval_s": "5",
        "idle_timeout_s": "15", "followup_timeout_s": "20"}),
    ("/admin/counters/{counter}", {
        "code": "Q01", "name": "Đổi", "scale": "5", "min_interval_s": "5", "active": "y",
        "idle_timeout_s": "15", "followup_timeout_s": "20"}),
    ("/admin/units/{centre}/officers/new", {
        "code": "CB999", "full_name": "Người lạ", "counter_id": "0", "pin": "1234"}),
    ("/admin/officers/{officer}", {"full_name": "Đổi tên", "counter_id": "0", "pin": "9999"}),
    ("/admin/users/{viewer}", {"role": "viewer", "unit_id": "{district}", "full_name": "x"}),
    ("/admin/users/{viewer}/password", {"password": "a-takeover-password"}),
    ("/admin/users/{viewer}/disable", {}),
    ("/admin/users/{viewer}/enable", {}),
]


@pytest.fixture
def org(app, monkeypatch):
    use_cheap_hashing(monkeypatch)
    return build_org()


def ids(org: Org) -> dict[str, int]:
    from core.services.survey.questionnaires import active

    return {"centre": org.centre.id, "counter": org.counter.id, "officer": org.officer.id,
            "viewer": org.viewer.id, "district": org.district.id,
            "questionnaire": active().id}


def fill(template: str, values: dict[str, int]) -> str:
    return template.format(**values)


def user_of(org: Org, role: str) -> User:
    return {"admin": org.admin, "manager": org.manager, "viewer": org.viewer}[role]


def snapshot() -> tuple:
    """Everything the forms above could change."""
    db.session.expire_all()
    return (
        [(u.code, u.name, u.path, u.active, u.parent_id, str(u.opening_hours))
         for u in db.session.scalars(select(Unit).order_by(Unit.id))],
        [(c.code, c.name, c.scale, c.active) for c in db.session.scalars(
            select(Counter).order_by(Counter.id))],
        [(o.code, o.full_name, o.pin_hash, o.counter_id) for o in db.session.scalars(
            select(Officer).order_by(Officer.id))],
        [(u.role, u.unit_id, u.active, u.password_hash) for u in db.session.scalars(
            select(User).order_by(User.id))],
        db.session.scalar(select(func.count()).select_from(AuditEntry)),
    )


@pytest.mark.parametrize("role", ALL)
def test_each_role_opens_exactly_its_pages(client, org, role):
    sign_in(client, user_of(org, role))
    values = ids(org)
    got = {}
    for template, allowed in PAGES:
        status = client.get(fill(template, values)).status_code
        got[template] = status
        assert status == (200 if role in allowed else 403), (template, status)
    assert set(got.values()) <= {200, 403}


def test_signed_out_visitors_are_sent_to_the_sign_in_page(client, org):
    values = ids(org)
    for template, _roles in PAGES:
        response = client.get(fill(template, values))
        assert response.status_code == 302, template
        assert "/admin/login" in response.headers["Location"]


@pytest.mark.parametrize("who", ["other_manager", "other_viewer"])
def test_another_units_ids_in_any_address_are_not_found(client, org, who):
    """The district's manager and viewer try every page with the service centre's ids."""
    sign_in(client, getattr(org, who))
    values = ids(org)
    for template, allowed in PAGES:
        if "{" not in template or "questionnaire" in template:
            continue
        status = client.get(fill(template, values)).status_code
        if who == "other_manager" or "viewer" in allowed:
            assert status == 404, template
        else:
            assert status in (403, 404), template


@pytest.mark.parametrize("who", ["other_manager", "other_viewer"])
def test_another_units_ids_in_any_form_change_nothing(client, org, who):
    sign_in(client, getattr(org, who))
    values = ids(org)
    before = snapshot()
    for template, body in POSTS:
        data = {k: fill(v, values) for k, v in body.items()}
        status = client.post(fill(template, values), data=data).status_code
        assert status in ((404,) if who == "other_manager" else (403, 404)), (template, status)
    assert snapshot() == before


def test_a_counter_of_another_unit_in_the_officer_filter_is_not_found(client, org):
    sign_in(client, org.admin)
    url = f"/admin/units/{org.centre.id}/officers?counter={org.other_counter.id}"
    assert client.get(url).status_code == 404


def test_services_refuse_another_units_ids_passed_in_form_values(app, org):
    """Ids inside a form (a parent, a unit, a counter) are checked by the services as well."""
    manager = db.session.get(User, org.other_manager.id)
    with app.test_request_context("/"):
        with pytest.raises(NotFound):
            org_service.create_unit(manager, "X-NEW", "Đơn vị mới", "commune", org.centre.id)
        with pytest.raises(NotFound):
            org_service.move_unit(manager, org.commune.id, org.centre.id)
        with pytest.raises(NotFound):
            org_service.create_officer(manager, org.commune.id, "CB900", "Tên", org.counter.id,
                                       None)
        with pytest.raises(NotFound):
            create_account(manager, "spy-viewer", "temporary-pass-1", "viewer", org.centre.id)
    assert db.session.scalar(select(func.count()).select_from(Unit).where(
        Unit.code == "X-NEW")) == 0


def test_a_viewer_reaches_no_officer_record_even_in_their_own_unit(client, org):
    sign_in(client, org.viewer)
    assert client.get(f"/admin/units/{org.centre.id}/officers").status_code == 403
    assert client.get(f"/admin/officers/{org.officer.id}").status_code == 403


def test_a_manager_changes_units_below_theirs_but_not_their_own_top(client, org):
    sign_in(client, org.other_manager)
    top = client.post(f"/admin/units/{org.district.id}/deactivate")
    assert top.status_code == 403
    below = client.post(f"/admin/units/{org.commune.id}/deactivate")
    assert below.status_code == 302
    assert not db.session.get(Unit, org.commune.id).active


# --- CSRF ----------------------------------------------------------------------------------------


@pytest.fixture
def csrf_client(app_factory, org):
    app = app_factory(WTF_CSRF_ENABLED=True)
    return app, app.test_client()


def test_sign_in_needs_the_forms_token(csrf_client, org):
    app, client = csrf_client
    with app.app_context():
        refused = client.post("/admin/login", data={"username": "root",
                                                    "password": "correct-horse-battery-1"})
        assert refused.status_code == 400
        assert "Biểu mẫu đã hết hạn hoặc không được gửi từ trang này" in refused.get_data(
            as_text=True)
        token = csrf_token(client.get("/admin/login").get_data(as_text=True))
        accepted = client.post("/admin/login", data={
            "username": "root", "password": "correct-horse-battery-1", "csrf_token": token})
        assert accepted.status_code == 302


def test_every_form_refuses_a_post_without_the_token(csrf_client, org):
    app, client = csrf_client
    with app.app_context():
        sign_in(client, db.session.get(User, org.admin.id))
        values = ids(org)
        before = snapshot()
        for template, body in [*POSTS, ("/admin/logout", {}),
                               ("/admin/questionnaires/policy", {"enabled": "1"}),
                               ("/admin/catalog/fields", {"code": "X", "name": "Y"}),
                               ("/admin/account/password", {"current": "a", "new": "b"})]:
            data = {k: fill(v, values) for k, v in body.items()}
            response = client.post(fill(template, values), data=data)
            assert response.status_code == 400, template
        assert snapshot() == before


def test_a_form_with_its_token_is_accepted(csrf_client, org):
    app, client = csrf_client
    with app.app_context():
        sign_in(client, db.session.get(User, org.admin.id))
        page = client.get(f"/admin/units/{org.commune.id}/hours").get_data(as_text=True)
        response = client.post(f"/admin/units/{org.commune.id}/hours",
                               data={"csrf_token": csrf_token(page), "mon": "07:00-11:00"})
        assert response.status_code == 302


# --- navigation ----------------------------------------------------------------------------------


def nav_labels(html: str) -> list[str]:
    import re

    nav = html.split('<nav class="admin-nav"', 1)[1].split("</nav>", 1)[0]
    return re.findall(r"<a [^>]*>([^<]+)</a>", nav)


@pytest.mark.parametrize(("role", "expected"), [
    ("admin", ["Trang đầu", "Bảng tổng hợp", "Đơn vị", "Kiosk", "Thủ tục", "Bảng hỏi",
               "Người dùng", "Nhật ký kiểm tra", "Mã truy cập API", "Tài khoản của tôi"]),
    ("manager", ["Trang đầu", "Bảng tổng hợp", "Đơn vị", "Kiosk", "Bảng hỏi", "Người dùng",
                 "Mã truy cập API", "Tài khoản của tôi"]),
    ("viewer", ["Trang đầu", "Bảng tổng hợp", "Đơn vị", "Bảng hỏi", "Mã truy cập API",
                "Tài khoản của tôi"]),
])
def test_the_navigation_offers_each_role_its_pages(client, org, role, expected):
    sign_in(client, user_of(org, role))
    html = client.get("/admin/units/").get_data(as_text=True)
    assert nav_labels(html) == expected
    assert 'href="/admin/units/" aria-current="page"' in html


def test_pages_of_other_areas_join_the_navigation_when_they_exist(app_factory, org):
    app = app_factory()
    app.add_url_rule("/admin/kiosks/", "kiosk_fleet_for_test", lambda: "fleet")
    app.add_url_rule("/admin/dashboard/", "dashboard_for_test", lambda: "dashboard")
    client = app.test_client()
    with app.app_context():
        sign_in(client, db.session.get(User, org.manager.id))
        labels = nav_labels(client.get("/admin/").get_data(as_text=True))
        sign_in(client, db.session.get(User, org.viewer.id))
        viewer_labels = nav_labels(client.get("/admin/").get_data(as_text=True))
    assert labels[:4] == ["Trang đầu", "Bảng tổng hợp", "Đơn vị", "Kiosk"]
    assert "Kiosk" not in viewer_labels and "Bảng tổng hợp" in viewer_labels
