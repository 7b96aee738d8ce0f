"""Counter staff and technicians: PIN sign-in and sign-out, arming, the status page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from core.extensions import db
from core.models.kiosk_local import ArmedTransaction, KioskState, OutboxRating
from core.models.types import utcnow
from kiosk import identity
from tests.support.kiosk import configure, open_shifts, ratings

API_KEY = "counter-software-key-0123456789"
TECH_PIN = "246810"


@pytest.fixture
def kiosk(app):
    app.config.update(KIOSK_LOCAL_API_KEY=API_KEY, KIOSK_TECH_PIN=TECH_PIN)
    configure(min_interval_s=0)
    return app


def sign_in(client, officer="CB001", pin="1111"):
    return client.post("/kiosk/staff", data={"officer": officer, "pin": pin})


def armed() -> list[ArmedTransaction]:
    db.session.expire_all()
    return list(db.session.scalars(
        db.select(ArmedTransaction).where(ArmedTransaction.used_at.is_(None))))


def api_arm(client, body, key=API_KEY, remote="127.0.0.1"):
    headers = {"X-Kiosk-Key": key} if key is not None else {}
    return client.post("/kiosk/api/arm", json=body, headers=headers,
                       environ_base={"REMOTE_ADDR": remote})


# --- sign-in and sign-out ------------------------------------------------------------------------


def test_the_staff_screen_lists_the_configured_officers(kiosk, client):
    html = client.get("/kiosk/staff").get_data(as_text=True)
    assert "Nguyễn Thị Lan (CB001)" in html and "Trần Văn Minh (CB002)" in html
    assert "Chưa có công chức nào đăng nhập." in html
    assert "Mã hồ sơ" not in html  # arming needs a PIN first
    assert client.get("/kiosk/staff").headers["Cache-Control"] == "no-store"


def test_an_officer_signs_in_with_the_right_pin_and_is_shown_on_duty(kiosk, client):
    response = sign_in(client)
    assert response.status_code == 303
    [shift] = open_shifts()
    assert (shift.officer_code, shift.officer_name) == ("CB001", "Nguyễn Thị Lan")
    page = client.get("/kiosk/staff").get_data(as_text=True)
    assert "Mã hồ sơ" in page and "Đăng xuất Nguyễn Thị Lan" in page
    assert "Nguyễn Thị Lan" in client.get("/kiosk/").get_data(as_text=True)
    client.post("/kiosk/rate", data={"level": "5"})
    assert ratings()[0].officer_code == "CB001"


def test_a_wrong_pin_or_unknown_officer_changes_nothing(kiosk, client):
    for officer, pin in (("CB001", "9999"), ("CB001", ""), ("NOBODY", "1111"), ("", "1111")):
        response = sign_in(client, officer, pin)
        assert response.status_code == 401
        assert "Sai công chức hoặc mã PIN; không có gì thay đổi." in response.get_data(
            as_text=True)
    assert open_shifts() == []
    assert "Mã hồ sơ" not in client.get("/kiosk/staff").get_data(as_text=True)


def test_pin_guessing_is_rate_limited_even_for_the_right_pin(kiosk, client):
    for _ in range(5):
        assert sign_in(client, pin="0000").status_code == 401
    blocked = sign_in(client, pin="1111")
    assert blocked.status_code == 429
    assert "Nhập sai mã PIN quá nhiều lần" in blocked.get_data(as_text=True)
    assert open_shifts() == []
    assert sign_in(client, "CB002", "2222").status_code == 303  # another officer is not locked


def test_guessing_across_officers_is_limited_for_the_whole_kiosk(kiosk, client):
    for attempt in range(20):
        sign_in(client, f"X{attempt}", "0000")
    assert sign_in(client, "CB002", "2222").status_code == 429
    assert open_shifts() == []


def test_signing_in_another_officer_ends_the_previous_shift(kiosk, client):
    sign_in(client)
    sign_in(client, "CB002", "2222")
    assert [s.officer_code for s in open_shifts()] == ["CB002"]


def test_signing_in_again_keeps_one_shift(kiosk, client):
    sign_in(client)
    sign_in(client)
    assert len(open_shifts()) == 1


def test_an_officer_signs_out_at_the_end_of_the_shift(kiosk, client):
    sign_in(client)
    response = client.post("/kiosk/staff/sign-out")
    assert response.status_code == 303
    assert open_shifts() == []
    assert "Nguyễn Thị Lan" not in client.get("/kiosk/").get_data(as_text=True)
    client.post("/kiosk/rate", data={"level": "5"})
    assert ratings()[0].officer_code is None


def test_signing_out_or_arming_needs_the_pin_first(kiosk, client):
    sign_in(client)
    client.post("/kiosk/staff/close")
    for path, data in (("/kiosk/staff/sign-out", {}),
                       ("/kiosk/staff/arm", {"dossier_code": "HS-1"})):
        response = client.post(path, data=data)
        assert response.status_code == 401
        assert "Hãy đăng nhập bằng mã PIN trước." in response.get_data(as_text=True)
    assert len(open_shifts()) == 1 and armed() == []


def test_the_staff_screen_closes_itself_after_a_while(kiosk, client):
    sign_in(client)
    with client.session_transaction() as session:
        session["kiosk_staff"] = {**session["kiosk_staff"], "until": 0}
    assert client.post("/kiosk/staff/arm", data={"dossier_code": "HS-1"}).status_code == 401


# --- arming --------------------------------------------------------------------------------------


def test_an_officer_arms_a_transaction_and_the_next_rating_carries_it(kiosk, client):
    sign_in(client)
    response = client.post("/kiosk/staff/arm",
                           data={"dossier_code": " 000.00.12.H01-261201-0001 ",
                                 "procedure_code": "1.001234"})
    assert response.status_code == 303  # post, redirect, get: a reload never arms twice
    assert "Đã gắn: lượt đánh giá tiếp theo sẽ kèm hồ sơ 000.00.12.H01-261201-0001." in (
        client.get(response.headers["Location"]).get_data(as_text=True))
    client.post("/kiosk/rate", data={"level": "4"})
    client.post("/kiosk/rate", data={"level": "5"})
    first, second = ratings()
    assert (first.dossier_code, first.procedure_code, first.misuse) == (
        "000.00.12.H01-261201-0001", "1.001234", None)
    assert second.misuse == "repeat_transaction"
    db.session.expire_all()
    used = db.session.scalar(db.select(ArmedTransaction))
    assert used.rating_uuid == first.uuid and used.used_at is not None


def test_arming_again_replaces_an_unused_transaction(kiosk, client):
    sign_in(client)
    client.post("/kiosk/staff/arm", data={"dossier_code": "HS-1"})
    client.post("/kiosk/staff/arm", data={"dossier_code": "HS-2"})
    assert [a.dossier_code for a in armed()] == ["HS-2"]
    client.post("/kiosk/rate", data={"level": "5"})
    assert ratings()[0].dossier_code == "HS-2"


@pytest.mark.parametrize(
    ("dossier", "procedure", "message"),
    [
        ("H" * 65, "", "Mã quá dài (tối đa 64 ký tự)"),
        ("HS-1", "P" * 61, "Mã quá dài (tối đa 60 ký tự)"),
        ("", "1.0001", "Hãy nhập mã hồ sơ."),
        ("HS 1", "", "Mã chỉ được gồm chữ cái, chữ số"),
        ("HS-1\x00", "", "Mã chỉ được gồm chữ cái, chữ số"),
        ("<script>", "", "Mã chỉ được gồm chữ cái, chữ số"),
    ],
)
def test_a_bad_dossier_or_procedure_code_is_refused_and_nothing_is_armed(
        kiosk, client, dossier, procedure, message):
    sign_in(client)
    response = client.post("/kiosk/staff/arm",
                           data={"dossier_code": dossier, "procedure_code": procedure})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert armed() == []


# --- the local API for the counter's software ---------------------------------------------------


def test_the_counter_software_arms_through_the_local_api(kiosk, client):
    response = api_arm(client, {"dossier_code": "HS-77", "procedure_code": "2.000123"})
    assert response.status_code == 201
    assert response.get_json()["armed"]["dossier_code"] == "HS-77"
    client.post("/kiosk/rate", data={"level": "5"})
    assert (ratings()[0].dossier_code, ratings()[0].procedure_code) == ("HS-77", "2.000123")


def test_the_local_api_accepts_ipv6_loopback_and_no_procedure(kiosk, client):
    assert api_arm(client, {"dossier_code": "HS-78"}, remote="::1").status_code == 201
    assert [(a.dossier_code, a.procedure_code) for a in armed()] == [("HS-78", None)]


@pytest.mark.parametrize(
    ("key", "remote", "status"),
    [(None, "127.0.0.1", 401), ("wrong", "127.0.0.1", 401), (API_KEY[:-1], "127.0.0.1", 401),
     (API_KEY, "10.0.0.5", 403), (API_KEY, "192.168.1.20", 403)],
)
def test_the_local_api_needs_the_key_and_loopback(kiosk, client, key, remote, status):
    response = api_arm(client, {"dossier_code": "HS-1"}, key=key, remote=remote)
    assert response.status_code == status
    assert response.get_json()["error"]["message"]
    assert armed() == []


def test_the_local_api_is_off_without_a_configured_key(kiosk, client):
    client.application.config["KIOSK_LOCAL_API_KEY"] = None
    response = api_arm(client, {"dossier_code": "HS-1"}, key="")
    assert response.status_code == 403
    assert armed() == []


def test_key_guessing_on_the_local_api_is_rate_limited(kiosk, client):
    for _ in range(10):
        assert api_arm(client, {"dossier_code": "HS-1"}, key="guess").status_code == 401
    assert api_arm(client, {"dossier_code": "HS-1"}).status_code == 429
    assert armed() == []


@pytest.mark.parametrize(
    ("body", "status"),
    [({"dossier_code": "H" * 65}, 422), ({"dossier_code": ""}, 422), ({}, 422),
     ({"dossier_code": 12}, 400), (["HS-1"], 400), ("HS-1", 400),
     ({"dossier_code": "HS-1", "procedure_code": ["x"]}, 400)],
)
def test_bad_local_api_bodies_are_refused_with_a_reason(kiosk, client, body, status):
    response = api_arm(client, body)
    assert response.status_code == status
    assert response.get_json()["error"]["message"]
    assert armed() == []


def test_the_local_api_reason_is_localised(kiosk, client):
    response = client.post("/kiosk/api/arm", json={"dossier_code": "H" * 65},
                           headers={"X-Kiosk-Key": API_KEY, "Accept-Language": "en"})
    assert response.status_code == 422
    assert response.get_json()["error"]["message"].startswith("The code is too long")


def test_the_local_api_needs_no_csrf_token_but_forms_do(app_factory):
    app = app_factory(WTF_CSRF_ENABLED=True, KIOSK_LOCAL_API_KEY=API_KEY)
    with app.app_context():
        from tests.conftest import empty_database

        empty_database()
        client = app.test_client()
        assert api_arm(client, {"dossier_code": "HS-5"}).status_code == 201
        assert client.post("/kiosk/staff/arm", data={"dossier_code": "HS-6"}).status_code == 400
        assert [a.dossier_code for a in armed()] == ["HS-5"]
        db.session.remove()


# --- the technician's status page ---------------------------------------------------------------


def test_status_needs_the_technician_pin(kiosk, client):
    html = client.get("/kiosk/status").get_data(as_text=True)
    assert "Mã PIN kỹ thuật" in html and "Lượt đánh giá chờ gửi" not in html
    wrong = client.post("/kiosk/status", data={"pin": "111111"})
    assert wrong.status_code == 401 and "Sai mã PIN kỹ thuật." in wrong.get_data(as_text=True)
    assert "Lượt đánh giá chờ gửi" not in client.get("/kiosk/status").get_data(as_text=True)
    assert client.post("/kiosk/status", data={"pin": TECH_PIN}).status_code == 303
    page = client.get("/kiosk/status")
    assert "Lượt đánh giá chờ gửi" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    client.post("/kiosk/status/close")
    assert "Lượt đánh giá chờ gửi" not in client.get("/kiosk/status").get_data(as_text=True)


def test_technician_pin_guessing_is_rate_limited(kiosk, client):
    for _ in range(5):
        assert client.post("/kiosk/status", data={"pin": "000000"}).status_code == 401
    blocked = client.post("/kiosk/status", data={"pin": TECH_PIN})
    assert blocked.status_code == 429
    assert "Lượt đánh giá chờ gửi" not in client.get("/kiosk/status").get_data(as_text=True)


def test_status_is_closed_when_no_technician_pin_is_set(kiosk, client):
    client.application.config["KIOSK_TECH_PIN"] = None
    assert "chưa đặt mã PIN kỹ thuật" in client.get("/kiosk/status").get_data(as_text=True)
    assert client.post("/kiosk/status", data={"pin": ""}).status_code == 403


def test_status_shows_the_outbox_and_sync_health(kiosk, client):
    identity.save(identity.Credentials("6f1c2a0e-0000-4000-8000-000000000001", "s" * 32,
                                       "https://hailong.example.gov.vn"))
    for level in ("5", "2", "4", "5"):
        client.post("/kiosk/rate", data={"level": level})
    db.session.expire_all()
    rows = ratings()
    rows[0].status, rows[0].sent_at = "sent", utcnow()
    rows[2].status, rows[2].reject_reason = "rejected", "unknown_counter"
    rows[3].device_time = utcnow() - timedelta(seconds=3600)
    state = db.session.get(KioskState, 1)
    state.last_sync_at = utcnow()
    state.last_sync_outcome = "network error: connection refused"
    state.clock_offset_s = -2.5
    db.session.commit()
    client.post("/kiosk/status", data={"pin": TECH_PIN})
    client.set_cookie("lang", "en")
    html = client.get("/kiosk/status").get_data(as_text=True)
    assert '<dd data-fact="waiting">2 (1 still in the follow-up)</dd>' in html
    # An hour old when the page was made; a slow machine may take a second or two to render it.
    age = re.search(r'data-fact="oldest">([\d,]+) seconds old', html)
    assert age and 3600 <= int(age.group(1).replace(",", "")) < 3660
    assert "network error: connection refused" in html
    assert "-2.5 seconds" in html
    assert "https://hailong.example.gov.vn" in html and "6f1c2a0e-0000-4000" in html
    assert "unknown_counter" in html and "<td class=\"num\">3</td>" in html
    assert '<span data-fact="rejected-total">(1)</span>' in html
    assert '<dd data-fact="version">0.1.0</dd>' in html
    assert "next sequence number 5" in html


def test_status_of_a_new_kiosk(kiosk, client):
    client.post("/kiosk/status", data={"pin": TECH_PIN})
    html = client.get("/kiosk/status").get_data(as_text=True)
    assert '<dd data-fact="waiting">0</dd>' in html
    assert "chưa đăng ký" in html and "chưa đo" in html
    assert db.session.scalar(db.select(db.func.count()).select_from(OutboxRating)) == 0


def test_sign_in_sign_out_pin_failures_and_status_access_are_audited(kiosk, client):
    from core.models import AuditEntry

    sign_in(client, pin="0000")
    sign_in(client)
    client.post("/kiosk/staff/sign-out")
    client.post("/kiosk/status", data={"pin": "1"})
    client.post("/kiosk/status", data={"pin": TECH_PIN})
    db.session.expire_all()
    entries = db.session.scalars(db.select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(e.action, e.username) for e in entries] == [
        ("kiosk.officer_pin_failed", "CB001"), ("kiosk.officer_sign_in", "CB001"),
        ("kiosk.officer_sign_out", "CB001"), ("kiosk.tech_pin_failed", None),
        ("kiosk.status_opened", None)]
    assert all("1111" not in str(e.details) and TECH_PIN not in str(e.details) for e in entries)


def test_kiosk_screens_are_never_cached(kiosk, client):
    response = client.post("/kiosk/rate", data={"level": "5"})
    thanks = client.get(response.headers["Location"])
    assert thanks.headers["Cache-Control"] == "no-store"
    assert client.get("/kiosk/").headers["Cache-Control"] == "no-store"
    static = client.get("/kiosk/kiosk-static/kiosk.css")
    static.close()
    assert "no-store" not in static.headers.get("Cache-Control", "")
