"""The kiosk's setup page: a technician enrolls the kiosk at a real (gunicorn) aggregator through
the same service as `flask kiosk enroll`, with a clear message for every refusal."""

from __future__ import annotations

import json
import stat
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, select, update

from core.extensions import db
from core.models import AuditEntry, Kiosk
from core.models.kiosk_local import KioskState
from core.models.types import utcnow
from kiosk import identity
from tests.support.live import refusing_port
from tests.support.sync_live import register_code

pytestmark = pytest.mark.processes

TECH_PIN = "246810"


@pytest.fixture
def kiosk(app):
    app.config.update(KIOSK_TECH_PIN=TECH_PIN)
    return app


@pytest.fixture
def technician(kiosk, client):
    """A client whose technician PIN opened the status (and setup) pages."""
    assert client.post("/kiosk/status", data={"pin": TECH_PIN}).status_code == 303
    return client


def enroll(client, server, code, replace=False, lang="vi"):
    data = {"server": server, "code": code}
    if replace:
        data["replace"] = "y"
    # A kiosk screen follows the language the technician chose, not the browser's.
    client.set_cookie("lang", lang)
    return client.post("/kiosk/setup", data=data)


def actions() -> list[tuple[str, dict | None]]:
    db.session.expire_all()
    return [(a.action, a.details) for a in db.session.scalars(
        select(AuditEntry).where(AuditEntry.action.like("kiosk.enroll%")).order_by(AuditEntry.id))]


def expire_code(aggregator, name: str) -> None:
    engine = create_engine(aggregator.env["SIPAS_DATABASE_URL"])
    with engine.begin() as conn:
        conn.execute(update(Kiosk).where(Kiosk.name == name)
                     .values(enrollment_expires_at=utcnow() - timedelta(minutes=1)))
    engine.dispose()


def test_the_setup_page_needs_the_technician_pin(kiosk, client):
    opened = client.get("/kiosk/setup")
    assert opened.status_code == 303 and opened.headers["Location"].endswith("/kiosk/status")
    refused = enroll(client, "http://127.0.0.1:1", "AAAAA-AAAAA")
    assert refused.status_code == 401
    assert "Hãy mở trang tình trạng bằng mã PIN kỹ thuật trước." in refused.get_data(as_text=True)
    assert identity.load() is None and actions() == []


def test_the_status_page_links_to_setup(technician):
    html = technician.get("/kiosk/status").get_data(as_text=True)
    assert 'href="/kiosk/setup"' in html and "Đăng ký kiosk này với máy chủ tổng hợp" in html
    page = technician.get("/kiosk/setup").get_data(as_text=True)
    assert "Kiosk này chưa được đăng ký." in page and 'name="replace"' not in page


def test_enrolling_from_the_page_stores_the_key_owner_only_and_the_config(
        technician, live_aggregator):
    code = register_code(live_aggregator.env, "setup page")
    response = enroll(technician, live_aggregator.url + "/", code)
    assert response.status_code == 303 and response.headers["Location"].endswith("/kiosk/status")
    credentials = identity.load()
    assert credentials is not None and credentials.server_url == live_aggregator.url
    assert stat.S_IMODE(identity.path().stat().st_mode) == 0o600
    db.session.expire_all()
    state = db.session.get(KioskState, 1)
    assert state.kiosk_public_id == credentials.kiosk_id and state.enrolled_at is not None
    assert state.config["counter"]["code"] == "Q01"
    assert {o["code"] for o in state.config["officers"]} == {"CB001", "CB002"}
    assert actions() == [("kiosk.enrolled", {"server": live_aggregator.url, "replaced": None})]
    status = technician.get("/kiosk/status").get_data(as_text=True)
    assert f"Kiosk này đã được đăng ký với mã {credentials.kiosk_id}" in status
    assert live_aggregator.url in status
    page = technician.get("/kiosk/setup").get_data(as_text=True)
    assert 'name="replace"' in page and credentials.kiosk_id in page


@pytest.mark.parametrize(("server", "lang", "message"), [
    ("hailong.example.gov.vn", "vi", "phải bắt đầu bằng http:// hoặc https://"),
    ("ftp://hailong.example.gov.vn", "en", "must start with http:// or https://"),
    ("http://", "en", "must start with http:// or https://"),
    ("http://host:port", "en", "must start with http:// or https://"),
])
def test_a_bad_address_is_refused_before_anything_is_sent(technician, server, lang, message):
    response = enroll(technician, server, "AAAAA-AAAAA", lang=lang)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert identity.load() is None
    assert actions() == [("kiosk.enroll_failed", {"reason": "bad_url"})]


def test_empty_fields_are_named(technician):
    response = enroll(technician, "", "")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Hãy nhập địa chỉ máy chủ tổng hợp." in html and "Hãy nhập mã đăng ký." in html
    assert identity.load() is None


def test_an_unreachable_aggregator_is_said_so(technician):
    with refusing_port() as port:
        response = enroll(technician, f"http://127.0.0.1:{port}", "AAAAA-AAAAA", lang="en")
    assert response.status_code == 502
    assert "The aggregator could not be reached." in response.get_data(as_text=True)
    assert identity.load() is None
    assert actions() == [("kiosk.enroll_failed", {"reason": "network"})]


def test_a_used_code_and_an_expired_code_are_refused(technician, live_aggregator):
    code = register_code(live_aggregator.env, "setup used")
    assert enroll(technician, live_aggregator.url, code).status_code == 303
    first = identity.load()
    used = enroll(technician, live_aggregator.url, code, replace=True)
    assert used.status_code == 400
    assert "Mã đăng ký này không hợp lệ hoặc đã được dùng." in used.get_data(as_text=True)
    assert identity.load() == first  # a refusal changes nothing

    expired_code = register_code(live_aggregator.env, "setup expired")
    expire_code(live_aggregator, "setup expired")
    expired = enroll(technician, live_aggregator.url, expired_code, replace=True, lang="en")
    assert expired.status_code == 400
    assert "This enrollment code has expired." in expired.get_data(as_text=True)
    assert identity.load() == first
    assert [a for a, _d in actions()] == ["kiosk.enrolled", "kiosk.enroll_failed",
                                          "kiosk.enroll_failed"]
    assert [d["reason"] for a, d in actions()[1:]] == ["invalid_code", "code_expired"]


def test_an_enrolled_kiosk_is_enrolled_again_only_when_confirmed(technician, live_aggregator):
    assert enroll(technician, live_aggregator.url,
                  register_code(live_aggregator.env, "setup first")).status_code == 303
    first = identity.load()
    code = register_code(live_aggregator.env, "setup second")
    refused = enroll(technician, live_aggregator.url, code)
    assert refused.status_code == 409
    assert "Kiosk này đã được đăng ký." in refused.get_data(as_text=True)
    assert identity.load() == first
    replaced = enroll(technician, live_aggregator.url, code, replace=True)  # the code still works
    assert replaced.status_code == 303
    second = identity.load()
    assert second.kiosk_id != first.kiosk_id
    assert json.loads(identity.path().read_text())["kiosk_id"] == second.kiosk_id
    assert actions()[-1] == ("kiosk.enrolled", {"server": live_aggregator.url,
                                                "replaced": first.kiosk_id})


def test_the_setup_form_needs_its_csrf_token(app_factory):
    from tests.conftest import csrf_token

    app = app_factory(WTF_CSRF_ENABLED=True, KIOSK_TECH_PIN=TECH_PIN)
    with app.app_context():
        client = app.test_client()
        token = csrf_token(client.get("/kiosk/status").get_data(as_text=True))
        assert client.post("/kiosk/status", data={"pin": TECH_PIN,
                                                  "csrf_token": token}).status_code == 303
        forged = client.post("/kiosk/setup", data={"server": "ftp://x", "code": "A"})
        assert forged.status_code == 400
        assert "yêu cầu không đến từ kiosk này" in forged.get_data(as_text=True)
        token = csrf_token(client.get("/kiosk/setup").get_data(as_text=True))
        checked = client.post("/kiosk/setup", data={"server": "ftp://x", "code": "A",
                                                    "csrf_token": token})
        assert checked.status_code == 400
        assert "phải bắt đầu bằng http://" in checked.get_data(as_text=True)
        assert identity.load() is None


@pytest.mark.browser
def test_the_setup_page_is_usable_on_the_touch_screen(browser, tmp_path):
    """Chromium at 1080×1920 with touch: PIN, the link, the form and its errors; axe finds
    nothing serious, and a wrong address is said next to the form."""
    from tests.support.a11y import axe_violations
    from tests.support.kiosk import prepare_live_kiosk
    from tests.support.live import Server

    env, _url = prepare_live_kiosk(tmp_path, enrolled=False)
    server = Server(env, workers=1, log_path=tmp_path / "gunicorn.log").start()
    context = browser.new_context(viewport={"width": 1080, "height": 1920}, has_touch=True,
                                  locale="vi-VN")
    try:
        page = context.new_page()
        page.goto(server.url + "/kiosk/status")
        page.fill("#pin", env["SIPAS_KIOSK_TECH_PIN"])
        page.locator("form[action$='/kiosk/status'] button[type=submit]").tap()
        page.locator("a[data-kiosk-setup]").tap()
        page.wait_for_url("**/kiosk/setup")
        assert axe_violations(page) == []
        page.get_by_role("button", name="Đăng ký kiosk này").tap()
        page.wait_for_load_state("load")
        assert page.locator("#server-error").inner_text() == "Hãy nhập địa chỉ máy chủ tổng hợp."
        assert page.locator("#server").get_attribute("aria-invalid") == "true"
        assert axe_violations(page) == []
        page.fill("#server", "hailong.example.gov.vn")
        page.fill("#code", "AAAAA-AAAAA")
        page.get_by_role("button", name="Đăng ký kiosk này").tap()
        page.wait_for_load_state("load")
        assert "phải bắt đầu bằng http://" in page.get_by_role("alert").inner_text()
        assert page.locator("#server").input_value() == "hailong.example.gov.vn"
        box = page.get_by_role("button", name="Đăng ký kiosk này").bounding_box()
        assert box["height"] >= 72 and box["width"] >= 72
    finally:
        context.close()
        server.close()
