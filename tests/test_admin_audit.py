"""The audit log: helpers other areas call, and the search page (system administrators only)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core.extensions import db
from core.models import AuditEntry
from core.services.accounts import audit
from tests.support.admin import build_org, sign_in, use_cheap_hashing


@pytest.fixture
def org(app, monkeypatch):
    use_cheap_hashing(monkeypatch)
    return build_org()


@pytest.fixture
def admin_client(client, org):
    sign_in(client, org.admin)
    return client


def add(action: str, at: datetime, username: str = "lan", unit_id: int | None = None) -> None:
    db.session.add(AuditEntry(action=action, at=at, username=username, unit_id=unit_id))


def shown_ids(html: str) -> list[str]:
    return re.findall(r"<td><code>([a-z0-9_.]+)</code></td>", html)


def test_exports_and_officer_level_views_are_recorded_with_what_was_asked(app, org):
    with app.test_request_context("/admin/x", environ_base={"REMOTE_ADDR": "203.0.113.5"}):
        audit.record_export(org.manager, "csv", unit_id=org.centre.id,
                            params={"from": "2026-10-01", "to": "2026-12-31"})
        audit.record_officer_view(org.manager, unit_id=org.centre.id,
                                  officer_id=org.officer.id, what="officer_ranking")
        db.session.commit()
    export, view = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()[-2:]
    assert (export.action, export.target_type, export.unit_id, export.ip) == (
        "export", "csv", org.centre.id, "203.0.113.5")
    assert export.details == {"from": "2026-10-01", "to": "2026-12-31"}
    assert (view.action, view.target_type, view.target_id, view.username) == (
        "officer_view", "officer", str(org.officer.id), "lan")
    assert view.details == {"what": "officer_ranking"}


def test_a_configuration_change_records_only_what_changed(app, org):
    changes = audit.changes_between({"scale": 3, "name": "A"}, {"scale": 5, "name": "A"})
    assert changes == {"scale": [3, 5]}
    with app.test_request_context("/"):
        entry = audit.record_config(org.admin, "counter.update", org.counter,
                                    unit_id=org.centre.id, changes=changes)
    assert (entry.target_type, entry.target_id) == ("counter", str(org.counter.id))


def test_search_by_action_prefix_user_and_unit(admin_client, org):
    now = datetime.now(UTC)
    add("login", now, "lan", org.centre.id)
    add("login.failed", now, "lan", org.centre.id)
    add("login.failed", now, "binh", org.district.id)
    add("loginx", now, "binh", org.district.id)
    add("unit.move", now, "root", org.district.id)
    db.session.commit()
    prefix = shown_ids(admin_client.get("/admin/audit/?action=login").get_data(as_text=True))
    assert sorted(prefix) == ["login", "login.failed", "login.failed"]
    exact = admin_client.get("/admin/audit/?action=login.failed&username=LAN")
    assert shown_ids(exact.get_data(as_text=True)) == ["login.failed"]
    by_unit = admin_client.get(f"/admin/audit/?unit_id={org.district.id}")
    assert sorted(shown_ids(by_unit.get_data(as_text=True))) == [
        "login.failed", "loginx", "unit.move"]
    assert "<td>Huyện Bình Sơn</td>" in by_unit.get_data(as_text=True)


def test_dates_are_local_days_both_ends_included(admin_client, org):
    # 2026-11-30 17:30 UTC is already 1 December in Hanoi.
    add("early", datetime(2026, 11, 30, 16, 59, tzinfo=UTC))
    add("first", datetime(2026, 11, 30, 17, 30, tzinfo=UTC))
    add("last", datetime(2026, 12, 1, 16, 59, tzinfo=UTC))
    add("late", datetime(2026, 12, 1, 17, 0, tzinfo=UTC))
    db.session.commit()
    html = admin_client.get("/admin/audit/?date_from=2026-12-01&date_to=2026-12-01").get_data(
        as_text=True)
    assert sorted(shown_ids(html)) == ["first", "last"]


@pytest.mark.parametrize(("query", "message"), [
    ("date_from=2026-12-05&date_to=2026-12-01", "Ngày kết thúc trước ngày bắt đầu."),
    ("date_from=01/12/2026", "Ngày không hợp lệ."),
    ("unit_id=999999", "Lựa chọn không hợp lệ."),
])
def test_a_bad_search_says_why(admin_client, org, query, message):
    response = admin_client.get(f"/admin/audit/?{query}")
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)


def test_keyset_pages_walk_the_whole_log_newest_first_without_repeats(admin_client, org):
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for i in range(130):
        add(f"bulk.e{i:03d}", start + timedelta(minutes=i))
    db.session.commit()
    seen: list[str] = []
    url = "/admin/audit/?action=bulk"
    for _ in range(10):
        html = admin_client.get(url).get_data(as_text=True)
        seen += shown_ids(html)
        match = re.search(r'href="([^"]+)">Trang sau<', html)
        if not match:
            break
        url = match.group(1).replace("&amp;", "&")
    assert seen == [f"bulk.e{i:03d}" for i in reversed(range(130))]
    assert "action=bulk" in url  # the filter is kept from page to page


def test_only_system_administrators_open_the_log(client, org):
    for user in (org.manager, org.viewer):
        sign_in(client, user)
        assert client.get("/admin/audit/").status_code == 403
