"""The citizen's flow at the kiosk, through the Flask client: idle, tap, follow-up, thanks."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import update

from core import tokens
from core.extensions import db
from core.models.kiosk_local import KioskState, OfficerShift, OutboxRating
from core.models.types import utcnow
from kiosk import capture, identity, staff, thanks
from kiosk.configuration import settings
from tests.conftest import csrf_token
from tests.support.kiosk import age_last_tap, configure, followup_ref, ratings

QUESTION_VI = "Ông/Bà có hài lòng với sự phục vụ hôm nay không?"
CREDENTIALS = identity.Credentials(
    kiosk_id="6f1c2a0e-0000-4000-8000-000000000001",
    secret="kiosk-secret-for-tests-0123456789abcdef",
    server_url="https://hailong.example.gov.vn",
)


@pytest.fixture
def kiosk(app):
    configure(min_interval_s=0)
    return app


def arm(dossier: str, procedure: str | None) -> None:
    """Arm as the counter's software does; the request would commit, so the test does."""
    staff.arm(dossier, procedure)
    db.session.commit()


def tap(client, level: int | str):
    return client.post("/kiosk/rate", data={"level": str(level)})


def thanks_of(client, response):
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/kiosk/thanks"
    return client.get(response.headers["Location"])


# --- idle ----------------------------------------------------------------------------------------


def test_idle_shows_the_question_counter_and_the_three_level_scale_in_vietnamese(kiosk, client):
    html = client.get("/kiosk/").get_data(as_text=True)
    assert QUESTION_VI in html
    assert "Quầy 01 – Tư pháp" in html
    labels = re.findall(r'<span class="kiosk-label">([^<]+)</span>', html)
    assert labels == ["Rất hài lòng", "Hài lòng", "Không hài lòng"]
    assert re.findall(r'name="level" value="(\d)"', html) == ["5", "4", "2"]
    assert html.count('class="kiosk-face ') == 3  # a face beside every word
    assert 'href="/lang/en?next=/kiosk/"' in html
    assert "<script>" not in html and "style=" not in html  # CSP: no inline script or style


def test_idle_shows_the_five_level_sipas_scale_in_english(app, client):
    configure(scale=5)
    client.set_cookie("lang", "en")  # the citizen chose English with the switch
    html = client.get("/kiosk/").get_data(as_text=True)
    assert "Are you satisfied with our service today?" in html
    labels = re.findall(r'<span class="kiosk-label">([^<]+)</span>', html)
    assert labels == ["Very satisfied", "Satisfied", "Neutral", "Dissatisfied",
                      "Very dissatisfied"]


def test_idle_names_the_officer_on_duty(kiosk, client):
    assert "Nguyễn Thị Lan" not in client.get("/kiosk/").get_data(as_text=True)
    db.session.add(OfficerShift(officer_code="CB001", officer_name="Nguyễn Thị Lan"))
    db.session.commit()
    html = client.get("/kiosk/").get_data(as_text=True)
    assert "Công chức đang trực:" in html and "Nguyễn Thị Lan" in html


def test_an_unconfigured_kiosk_still_takes_ratings_on_the_three_level_scale(app, client):
    assert client.get("/kiosk/").status_code == 200
    response = tap(client, 5)
    assert response.status_code == 303
    [rating] = ratings()
    assert (rating.scale, rating.level, rating.seq) == (3, 5, 1)


# --- the tap -------------------------------------------------------------------------------------


def test_a_satisfied_tap_is_stored_finalised_with_uuid_and_sequence_before_the_answer(
        kiosk, client):
    before = utcnow()
    response = tap(client, 4)
    assert response.status_code == 303
    [rating] = ratings()
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}",
                        rating.uuid)
    assert (rating.seq, rating.scale, rating.level) == (1, 3, 4)
    assert rating.status == "pending" and rating.misuse is None and rating.reasons is None
    assert rating.finalised_at is not None and before <= rating.device_time <= utcnow()
    assert rating.officer_code is None and rating.dossier_code is None
    assert db.session.get(KioskState, 1).next_seq == 2
    page = thanks_of(client, response)
    assert "Cảm ơn Ông/Bà đã đánh giá!" in page.get_data(as_text=True)


def test_three_level_kiosks_store_five_four_and_two(kiosk, client):
    for level in (5, 4, 2):
        assert tap(client, level).status_code == 303
    assert [(r.seq, r.level, r.scale) for r in ratings()] == [(1, 5, 3), (2, 4, 3), (3, 2, 3)]


def test_five_level_kiosks_store_every_level(app, client):
    configure(scale=5, min_interval_s=0)
    for level in (5, 4, 3, 2, 1):
        assert tap(client, level).status_code == 303
    assert [r.level for r in ratings()] == [5, 4, 3, 2, 1]
    assert all(r.scale == 5 for r in ratings())


@pytest.mark.parametrize("level", ["3", "1", "6", "0", "-1", "abc", "", "4.5", "٤"])
def test_a_level_that_is_not_a_button_is_refused_and_nothing_is_stored(kiosk, client, level):
    response = tap(client, level)
    assert response.status_code == 400
    assert "Câu trả lời này không thuộc các nút; chưa ghi nhận gì." in response.get_data(
        as_text=True)
    assert ratings() == []
    assert db.session.get(KioskState, 1).next_seq == 1


def test_a_missing_level_is_refused_in_english_for_an_english_speaker(kiosk, client):
    client.set_cookie("lang", "en")
    response = client.post("/kiosk/rate", data={})
    assert response.status_code == 400
    assert "This answer is not one of the buttons; nothing was recorded." in response.get_data(
        as_text=True)
    assert ratings() == []


def test_sequence_numbers_have_no_gaps_across_refusals_and_flags(app, client):
    configure(min_interval_s=5)
    for level in (5, 7, 4, "x", 2, 5):
        tap(client, level)
    stored = ratings()
    assert [r.seq for r in stored] == [1, 2, 3, 4]
    assert len({r.uuid for r in stored}) == 4
    assert db.session.get(KioskState, 1).next_seq == 5


# --- misuse rules ------------------------------------------------------------------------------


def test_a_tap_within_the_minimum_interval_is_stored_and_flagged_too_fast(app, client):
    configure()  # default minimum interval: 5 s
    tap(client, 5)
    tap(client, 5)
    age_last_tap(6)
    tap(client, 4)
    assert [r.misuse for r in ratings()] == [None, "too_fast", None]


def test_a_minimum_interval_of_zero_switches_the_rule_off(kiosk, client):
    for _ in range(3):
        tap(client, 5)
    assert [r.misuse for r in ratings()] == [None, None, None]


def test_a_clock_set_backwards_does_not_flag_taps(app, client):
    configure()
    tap(client, 5)
    age_last_tap(-3600)  # the previous tap seems an hour in the future
    tap(client, 5)
    assert [r.misuse for r in ratings()] == [None, None]


def test_require_transaction_flags_an_unarmed_tap_and_keeps_an_armed_one_clean(app, client):
    configure(require_transaction=True, min_interval_s=0)
    tap(client, 5)
    arm("HS-2026-000123", "1.001234")
    tap(client, 4)
    first, second = ratings()
    assert first.misuse == "no_transaction" and first.dossier_code is None
    assert (second.misuse, second.dossier_code, second.procedure_code) == (
        None, "HS-2026-000123", "1.001234")


def test_a_second_rating_of_one_transaction_is_flagged_repeat(app, client):
    configure(min_interval_s=0)
    arm("HS-1", None)
    tap(client, 5)
    tap(client, 2)  # the same citizen taps again, no new transaction armed
    arm("HS-1", None)  # the counter's software arms the same dossier again
    tap(client, 4)
    arm("HS-2", None)
    tap(client, 5)
    assert [(r.dossier_code, r.misuse) for r in ratings()] == [
        ("HS-1", None), ("HS-1", "repeat_transaction"), ("HS-1", "repeat_transaction"),
        ("HS-2", None)]


def test_the_repeat_window_ends(app, client):
    configure(min_interval_s=0)
    from core.models.kiosk_local import ArmedTransaction
    arm("HS-1", None)
    tap(client, 5)
    db.session.execute(update(ArmedTransaction).values(
        used_at=utcnow() - timedelta(seconds=capture.REPEAT_WINDOW_S + 1)))
    db.session.commit()
    tap(client, 5)
    assert [(r.dossier_code, r.misuse) for r in ratings()] == [("HS-1", None), (None, None)]


# --- follow-up -----------------------------------------------------------------------------------


def test_below_satisfied_the_follow_up_offers_the_questionnaire_reasons(kiosk, client):
    response = tap(client, 2)
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/kiosk/followup"
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert re.findall(r'name="reason" value="([a-z_]+)"', html) == [
        "waiting_time", "officer_attitude", "procedures_papers", "premises_equipment",
        "feedback_handling", "other"]
    for text in ("Chờ đợi lâu", "Thái độ công chức", "Thủ tục, giấy tờ", "Lý do khác", "Bỏ qua",
                 "Gửi"):
        assert text in html
    assert 'data-timeout="20"' in html
    [rating] = ratings()
    assert rating.finalised_at is None  # open until answered, skipped or timed out


def test_several_reasons_are_stored_and_the_rating_finalised(kiosk, client):
    page = client.get(tap(client, 2).headers["Location"])
    ref = followup_ref(page.get_data(as_text=True))
    response = client.post("/kiosk/followup", data={
        "r": ref, "reason": ["other", "waiting_time", "waiting_time"], "action": "send"})
    assert "Cảm ơn Ông/Bà đã đánh giá!" in thanks_of(client, response).get_data(as_text=True)
    [rating] = ratings()
    assert rating.reasons == ["waiting_time", "other"]  # definition order, no duplicates
    assert rating.finalised_at is not None


def test_skip_finalises_with_no_reasons_even_if_chips_were_ticked(kiosk, client):
    ref = followup_ref(client.get(tap(client, 2).headers["Location"]).get_data(as_text=True))
    response = client.post("/kiosk/followup",
                           data={"r": ref, "reason": ["other"], "action": "skip"})
    assert response.status_code == 303
    [rating] = ratings()
    assert rating.reasons == [] and rating.finalised_at is not None


def test_a_replayed_follow_up_changes_nothing(kiosk, client):
    ref = followup_ref(client.get(tap(client, 2).headers["Location"]).get_data(as_text=True))
    client.post("/kiosk/followup", data={"r": ref, "reason": ["other"], "action": "send"})
    finalised = ratings()[0].finalised_at
    response = client.post("/kiosk/followup",
                           data={"r": ref, "reason": ["waiting_time"], "action": "send"})
    assert response.status_code == 409
    assert "Câu trả lời này đã được ghi nhận; không có gì thay đổi." in response.get_data(
        as_text=True)
    [rating] = ratings()
    assert rating.reasons == ["other"] and rating.finalised_at == finalised
    # Reloading the follow-up screen afterwards just returns to idle.
    again = client.get(f"/kiosk/followup?r={ref}")
    assert again.status_code == 302 and parse_qs(urlsplit(again.headers["Location"]).query)[
        "next"] == ["/kiosk/"]


def test_a_late_answer_after_the_sync_worker_finalised_changes_nothing(kiosk, client):
    ref = followup_ref(client.get(tap(client, 2).headers["Location"]).get_data(as_text=True))
    stale = utcnow() - timedelta(seconds=1)
    db.session.execute(update(OutboxRating).values(finalised_at=stale))
    db.session.commit()
    response = client.post("/kiosk/followup", data={"r": ref, "reason": ["other"],
                                                    "action": "send"})
    assert response.status_code == 409
    [rating] = ratings()
    assert rating.reasons is None and rating.finalised_at == stale


def test_a_follow_up_cannot_be_pointed_at_another_rating(kiosk, client):
    first_ref = followup_ref(client.get(tap(client, 2).headers["Location"]).get_data(
        as_text=True))
    tap(client, 2)
    body, mac = first_ref.split(".")
    payload = tokens.peek(first_ref)
    payload["r"] = ratings()[1].uuid
    other_body = tokens.sign(payload, "any key").split(".")[0]
    wrong_key = tokens.sign(payload, "not-the-kiosk-key")
    for bad in (other_body + "." + mac, wrong_key, first_ref[:-2] + "AA", "", "garbage", body):
        response = client.post("/kiosk/followup",
                               data={"r": bad, "reason": ["other"], "action": "send"})
        assert response.status_code == 400, bad
        assert "Yêu cầu này không được tạo trên kiosk này" in response.get_data(as_text=True)
    assert [r.reasons for r in ratings()] == [None, None]


def test_a_thanks_reference_is_not_a_follow_up_reference(kiosk, client):
    tap(client, 2)
    with client.application.test_request_context():
        thanks_ref = capture.make_ref(ratings()[0].uuid, "t", 60)
    response = client.post("/kiosk/followup", data={"r": thanks_ref, "action": "skip"})
    assert response.status_code == 400
    assert ratings()[0].finalised_at is None


def test_an_expired_follow_up_reference_changes_nothing(kiosk, client):
    tap(client, 2)
    with client.application.test_request_context():
        old = capture.make_ref(ratings()[0].uuid, "f", -1)
    response = client.post("/kiosk/followup", data={"r": old, "action": "skip"})
    assert response.status_code == 410
    assert ratings()[0].finalised_at is None


def test_an_unknown_reason_is_refused_and_the_rating_stays_open(kiosk, client):
    ref = followup_ref(client.get(tap(client, 2).headers["Location"]).get_data(as_text=True))
    response = client.post("/kiosk/followup",
                           data={"r": ref, "reason": ["bribery"], "action": "send"})
    assert response.status_code == 400
    assert "Lựa chọn này không có trong danh sách" in response.get_data(as_text=True)
    [rating] = ratings()
    assert rating.finalised_at is None and rating.reasons is None


# --- thanks --------------------------------------------------------------------------------------


def test_an_unenrolled_kiosk_thanks_without_a_qr_code(kiosk, client):
    html = thanks_of(client, tap(client, 5)).get_data(as_text=True)
    assert "Cảm ơn Ông/Bà đã đánh giá!" in html
    assert "<svg" not in html.split("kiosk-thanks", 1)[1]


def test_an_enrolled_kiosk_shows_a_qr_with_a_kiosk_signed_survey_token(kiosk, client):
    identity.save(CREDENTIALS)
    db.session.add(OfficerShift(officer_code="CB001", officer_name="Nguyễn Thị Lan"))
    db.session.commit()
    arm("HS-9", "1.0002")
    html = thanks_of(client, tap(client, 5)).get_data(as_text=True)
    assert '<figure class="kiosk-qr"' in html and "<path d=" in html
    assert "Quét mã này bằng điện thoại" in html
    [rating] = ratings()
    url = _survey_url(client, rating)
    assert url.startswith("http://127.0.0.1:8000/s/")  # config.public_url beats server_url
    payload = tokens.verify(url.rsplit("/", 1)[1], CREDENTIALS.secret)
    assert payload == {
        "t": "k", "k": CREDENTIALS.kiosk_id, "r": rating.uuid, "s": rating.seq, "u": 2, "c": 1,
        "o": "CB001", "d": "HS-9", "p": "1.0002", "exp": payload["exp"]}
    assert abs(payload["exp"] - (time.time() + 7 * 86400)) < 60


def _survey_url(client, rating) -> str:
    with client.application.test_request_context():
        url = thanks.survey_url(rating, settings(), identity.load())
    assert url is not None
    return url


def test_the_survey_link_falls_back_to_the_enrolled_server(app, client):
    configure(public_url=None, survey_token_days=3)
    identity.save(CREDENTIALS)
    tap(client, 5)
    url = _survey_url(client, ratings()[0])
    assert url.startswith("https://hailong.example.gov.vn/s/")
    exp = tokens.verify(url.rsplit("/", 1)[1], CREDENTIALS.secret)["exp"]
    assert abs(exp - (time.time() + 3 * 86400)) < 60


def test_the_qr_code_encodes_the_survey_url(kiosk, client):
    svg = thanks.qr_svg("http://127.0.0.1:8000/s/abc.def")
    assert svg.startswith('<svg focusable="false" aria-hidden="true"') and "width=" not in svg[:60]


def test_thanks_returns_to_idle_in_the_default_language_and_forgets_the_citizen(kiosk, client):
    identity.save(CREDENTIALS)
    client.get("/lang/en?next=/kiosk/")
    arm("HS-PRIVATE-42", None)
    page = thanks_of(client, tap(client, 5)).get_data(as_text=True)
    assert 'data-timeout="15"' in page
    reset = re.search(r'data-reset-url="([^"]+)"', page).group(1)
    assert reset == "/lang/vi?next=/kiosk/"
    assert f'<meta http-equiv="refresh" content="15;url={reset}">' in page  # works without JS
    idle = client.get(client.get(reset).headers["Location"]).get_data(as_text=True)
    assert QUESTION_VI in idle
    assert "HS-PRIVATE-42" not in idle and "kiosk-qr" not in idle and "/s/" not in idle


def test_an_old_thanks_screen_reloaded_returns_to_idle(kiosk, client):
    tap(client, 5)
    with client.application.test_request_context():
        old = capture.make_ref(ratings()[0].uuid, "t", -1)
    response = client.get(f"/kiosk/thanks?r={old}")
    assert response.status_code == 302
    assert client.get("/kiosk/thanks?r=forged.token").status_code == 400


# --- CSRF ----------------------------------------------------------------------------------------


def test_every_kiosk_form_needs_its_csrf_token(app_factory):
    app = app_factory(WTF_CSRF_ENABLED=True)
    with app.app_context():
        from tests.conftest import empty_database

        empty_database()
        configure(min_interval_s=0)
        client = app.test_client()
        refused = client.post("/kiosk/rate", data={"level": "5"})
        assert refused.status_code == 400
        assert "Màn hình đã hết hạn hoặc yêu cầu không đến từ kiosk này" in refused.get_data(
            as_text=True)
        assert ratings() == []
        token = csrf_token(client.get("/kiosk/").get_data(as_text=True))
        bad = client.post("/kiosk/rate", data={"level": "2", "csrf_token": token + "x"})
        assert bad.status_code == 400 and ratings() == []
        accepted = client.post("/kiosk/rate", data={"level": "2", "csrf_token": token})
        assert accepted.status_code == 303
        page = client.get(accepted.headers["Location"]).get_data(as_text=True)
        ref = followup_ref(page)
        no_token = client.post("/kiosk/followup", data={"r": ref, "action": "skip"})
        assert no_token.status_code == 400 and ratings()[0].finalised_at is None
        done = client.post("/kiosk/followup",
                           data={"r": ref, "action": "skip", "csrf_token": csrf_token(page)})
        assert done.status_code == 303 and ratings()[0].finalised_at is not None
        for path in ("/kiosk/staff", "/kiosk/staff/arm", "/kiosk/staff/sign-out",
                     "/kiosk/status"):
            assert client.post(path, data={"pin": "1111", "officer": "CB001"}).status_code == 400
        assert client.get("/kiosk/staff").get_data(as_text=True).count("Chưa có công chức") == 1
        db.session.remove()


def test_the_kiosk_browser_language_does_not_change_the_default(kiosk, client):
    """A kiosk is shared: Chromium's own Accept-Language says nothing about the citizen."""
    html = client.get("/kiosk/", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(
        as_text=True)
    assert '<html lang="vi">' in html
    assert "Ông/Bà có hài lòng với sự phục vụ hôm nay không?" in html


def test_the_language_switch_offers_only_the_configured_languages(app, client):
    configure(languages=["vi"])
    html = client.get("/kiosk/").get_data(as_text=True)
    assert "lang-switch" not in html and QUESTION_VI in html
    configure(languages=["vi", "en"])
    assert 'hreflang="en"' in client.get("/kiosk/").get_data(as_text=True)
