"""Kiosk administration pages: register with a one-time code and QR, the fleet page, revoke and
rotate, bundle upload; everything limited to the user's units."""

from __future__ import annotations

import io
import json
import re
import time

import pytest
from sqlalchemy import select

from core import protocol
from core.extensions import db
from core.models import AuditEntry, Counter, Kiosk, Unit
from core.services.accounts.users import create_user
from core.services.sync import fleet as kiosk_fleet
from core.services.sync import registry
from tests.conftest import csrf_token
from tests.support.sync_helpers import enroll, push, rating, register_demo_kiosk

PASSWORD = "a-long-password-123"


def sign_in(client, username: str, role: str, unit_code: str | None = None):
    unit = db.session.scalar(select(Unit).where(Unit.code == unit_code)) if unit_code else None
    create_user(username, PASSWORD, role=role, unit=unit)
    db.session.commit()
    response = client.post("/admin/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302


def counter_id(unit_code: str, code: str = "Q01") -> int:
    return registry.find_counter(unit_code, code).id


def test_an_administrator_registers_a_kiosk_and_sees_its_code_once(demo, client):
    sign_in(client, "root", "admin")
    form = client.get("/admin/kiosks/new")
    assert form.status_code == 200 and "Quầy 01" in form.text
    shown = client.post("/admin/kiosks/new", data={
        "counter": counter_id("T-DEMO-TTHCC"), "name": "Kiosk sảnh"})
    assert shown.status_code == 200 and shown.headers["Cache-Control"] == "no-store"
    code = re.search(r'class="enrollment-code">([0-9A-Z-]+)<', shown.text).group(1)
    assert 'src="data:image/svg+xml;base64,' in shown.text
    assert enroll(client, code).kiosk_id
    kiosk = db.session.scalar(select(Kiosk).where(Kiosk.name == "Kiosk sảnh"))
    assert kiosk.status == "active"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "kiosk.register"))
    assert entry.username == "root"


def test_a_manager_registers_only_at_counters_of_their_units(demo, client):
    sign_in(client, "xa1", "manager", "T-DEMO-X1")
    page = client.get("/admin/kiosks/new").text
    assert "Tân Phú" in page and "Quầy 02" not in page
    other = client.post("/admin/kiosks/new", data={
        "counter": counter_id("T-DEMO-TTHCC"), "name": "Not mine"})
    assert other.status_code == 422  # not a choice offered to this user
    assert db.session.scalar(select(Kiosk).where(Kiosk.name == "Not mine")) is None
    mine = client.post("/admin/kiosks/new", data={
        "counter": counter_id("T-DEMO-X1"), "name": "Kiosk xã"})
    assert mine.status_code == 200


def test_a_viewer_sees_the_fleet_but_cannot_change_it(demo, client):
    kiosk, _code = register_demo_kiosk(unit_code="T-DEMO-X1")
    sign_in(client, "viewer1", "viewer", "T-DEMO-X1")
    fleet = client.get("/admin/kiosks/")
    assert fleet.status_code == 200 and kiosk.name in fleet.text
    assert "/revoke" not in fleet.text
    assert client.get("/admin/kiosks/new").status_code == 403
    assert client.post(f"/admin/kiosks/{kiosk.public_id}/revoke").status_code == 403


def test_the_fleet_shows_only_kiosks_in_scope_with_gaps_and_clock_skew(demo, client):
    _mine, code = register_demo_kiosk(unit_code="T-DEMO-X1", name="Kiosk của xã")
    register_demo_kiosk(name="Kiosk trung tâm")
    creds = enroll(client, code)
    client.open("/api/v1/sync/push", method="POST")  # unsigned: ignored
    signed_push = push(client, creds, [rating(1), rating(4)])
    assert signed_push.status_code == 200
    late = json.dumps({"device_clock": time.time() - 900, "ratings": []}).encode()
    headers = protocol.signed_headers(creds, "POST", "/api/v1/sync/push", late, time.time())
    client.post("/api/v1/sync/push", data=late, headers=headers)
    sign_in(client, "xa1", "manager", "T-DEMO-X1")
    page = client.get("/admin/kiosks/", headers={"Accept-Language": "en"}).text
    assert "Kiosk của xã" in page and "Kiosk trung tâm" not in page
    assert "Gaps:" in page and "2–3" in page
    assert "Clock wrong by more than 5 minutes" in page


def test_fleet_pages_follow_a_keyset(demo, client):
    counter = db.session.scalar(select(Counter).where(Counter.code == "Q02"))
    for i in range(kiosk_fleet.PAGE_SIZE + 5):
        registry.register(counter, f"K{i:03d}")
    db.session.commit()
    sign_in(client, "root", "admin")
    first = client.get("/admin/kiosks/").text
    assert "K000" in first and "K054" not in first
    after = re.search(r'href="/admin/kiosks/\?after=(\d+)"', first).group(1)
    second = client.get(f"/admin/kiosks/?after={after}").text
    assert "K054" in second and "K000" not in second and "?after=" not in second


def test_revoke_and_rotate_from_the_fleet_page_are_audited(demo, client):
    _kiosk, code = register_demo_kiosk()
    creds = enroll(client, code)
    sign_in(client, "root", "admin")
    assert client.post(f"/admin/kiosks/{creds.kiosk_id}/rotate").status_code == 302
    db.session.expire_all()
    kiosk = registry.by_public_id(creds.kiosk_id)
    assert kiosk.previous_secret == creds.secret and kiosk.secret != creds.secret
    assert client.post(f"/admin/kiosks/{creds.kiosk_id}/revoke").status_code == 302
    db.session.expire_all()
    assert registry.by_public_id(creds.kiosk_id).status == "revoked"
    actions = db.session.scalars(select(AuditEntry.action)
                                 .where(AuditEntry.username == "root")).all()
    assert {"kiosk.rotate", "kiosk.revoke"} <= set(actions)


def test_kiosks_of_other_units_look_missing(demo, client):
    theirs, _ = register_demo_kiosk()
    sign_in(client, "xa1", "manager", "T-DEMO-X1")
    assert client.post(f"/admin/kiosks/{theirs.public_id}/revoke").status_code == 404


def test_the_forms_need_their_csrf_token(app_factory):
    from demo.seed import seed_demo
    from tests.conftest import empty_database

    app = app_factory(WTF_CSRF_ENABLED=True)
    with app.app_context():
        empty_database()
        seed_demo()
        kiosk, _ = register_demo_kiosk()
        create_user("root", PASSWORD, role="admin")
        db.session.commit()
        public_id = kiosk.public_id
    # Requests run outside the setup's app context, each with its own (as in production).
    client = app.test_client()
    token = csrf_token(client.get("/admin/login").text)
    client.post("/admin/login", data={"username": "root", "password": PASSWORD,
                                      "csrf_token": token})
    assert client.post(f"/admin/kiosks/{public_id}/revoke").status_code == 400
    fleet = client.get("/admin/kiosks/").text
    response = client.post(f"/admin/kiosks/{public_id}/revoke",
                           data={"csrf_token": csrf_token(fleet)})
    assert response.status_code == 302


def test_a_bundle_can_be_uploaded_twice_harmlessly(demo, client):
    _kiosk, code = register_demo_kiosk()
    creds = enroll(client, code)
    body = json.dumps({"format": protocol.BUNDLE_FORMAT, "version": 1,
                       "kiosk_id": creds.kiosk_id, "clock_offset_s": 0,
                       "ratings": [rating(1), rating(2)]})
    data = json.dumps({"bundle": body,
                       "signature": protocol.sign_bundle(creds.secret, body.encode())}).encode()
    sign_in(client, "root", "admin")
    for expected in ("2 new, 0 already stored", "0 new, 2 already stored"):
        response = client.post("/admin/kiosks/import", data={
            "bundle": (io.BytesIO(data), "bundle.json")}, follow_redirects=True,
            headers={"Accept-Language": "en"})
        assert expected in response.text
    garbage = client.post("/admin/kiosks/import", data={
        "bundle": (io.BytesIO(b"not a bundle"), "x.json")}, headers={"Accept-Language": "en"})
    assert garbage.status_code == 422 and "not a kiosk bundle" in garbage.text


@pytest.mark.parametrize("path", ["/admin/kiosks/", "/admin/kiosks/new", "/admin/kiosks/import"])
def test_kiosk_pages_need_a_signed_in_user(client, path):
    assert client.get(path).status_code == 302
