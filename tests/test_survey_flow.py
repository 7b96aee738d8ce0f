"""The phone survey from the intro to the thank-you page: pages, drafts, validation, rollups."""

from __future__ import annotations

import re
from collections import Counter as Tally

import pytest
from sqlalchemy import func, select

from core.extensions import db
from core.models import (
    Counter,
    KioskRating,
    Questionnaire,
    RollupCount,
    SurveyAnswer,
    SurveyDraft,
    SurveyResponse,
)
from core.services.survey import flow as service
from core.services.survey.links import dossier_token
from tests.conftest import csrf_token
from tests.support.survey import complete_survey, kiosk_token, make_kiosk, page_answers


@pytest.fixture
def counter(demo) -> Counter:
    return db.session.scalars(select(Counter).order_by(Counter.id)).first()


@pytest.fixture
def token(app, counter) -> str:
    with app.test_request_context():
        return dossier_token(counter.unit_id, "HS-0001", counter_id=counter.id)


def responses() -> list[SurveyResponse]:
    db.session.rollback()  # a fresh snapshot: another app may have written
    return list(db.session.scalars(select(SurveyResponse)))


def count(model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


def test_intro_names_the_unit_and_counter_and_says_it_is_anonymous(client, token, counter):
    page = client.get(f"/s/{token}", headers={"Accept-Language": "vi"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert counter.name in html and counter.unit.name in html
    assert "ẩn danh" in html
    assert "Đường dẫn còn hiệu lực thêm 7 ngày." in html
    assert "Bắt đầu" in html
    assert count(SurveyDraft) == 0  # looking at a survey stores nothing


def test_each_element_is_one_page_with_a_progress_indicator_and_a_fieldset_per_item(
    client, token
):
    client.post(f"/s/{token}")
    survey = service.survey_for(None)
    assert [s.kind for s in survey.steps] == ["element"] * 5 + ["perception", "comment"]
    html = client.get(f"/s/{token}/1", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Page 1 of 7" in html
    assert html.count("<fieldset") == 4 and html.count("<legend>") == 4
    # Five levels plus "no opinion" per item, as radio buttons.
    assert html.count('type="radio" name="r-TC1"') == 6
    assert "No opinion" in html and "Very satisfied" in html


def test_completing_the_survey_stores_one_response_with_every_answer(client, token, counter):
    page = complete_survey(client, token, pick=1, comment="Nhân viên nhiệt tình")
    assert page.status_code == 200
    (response,) = responses()
    assert response.token_key == f"d:{counter.unit_id}:HS-0001"
    assert response.channel == "api" and response.counter_id == counter.id
    assert response.misuse is None
    assert response.comment == "Nhân viên nhiệt tình"
    assert response.trips == "2" and response.harassment == "some"
    assert response.priorities == ["officer_attitude", "processing_time"]
    assert len(response.answers) == 19
    assert {a.level for a in response.answers} == {4}
    active = db.session.scalar(select(Questionnaire).where(Questionnaire.active.is_(True)))
    assert response.questionnaire_id == active.id and response.questionnaire.version == 1


def test_rollups_equal_the_raw_counts(client, app, counter):
    with app.test_request_context():
        tokens = [dossier_token(counter.unit_id, f"HS-{n}", counter_id=counter.id)
                  for n in range(4)]
    for n, token in enumerate(tokens):
        complete_survey(app.test_client(), token, pick=n)
    stored = responses()
    assert len(stored) == 4
    raw: Tally = Tally()
    for response in stored:
        raw[("RESP", 0)] += 1
        for answer in response.answers:
            raw[(answer.item_code, answer.level)] += 1
        for code, value in (("trips", response.trips), ("harassment", response.harassment),
                            ("informal_payment", response.informal_payment),
                            ("channel", response.submission_channel)):
            raw[(f"{code}:{value}", 0)] += 1
        for option in response.priorities or []:
            raw[(f"priorities:{option}", 0)] += 1
    cells = db.session.scalars(select(RollupCount)).all()
    rolled: Tally = Tally()
    for cell in cells:
        assert cell.channel == "api" and cell.unit_id == counter.unit_id
        assert cell.counter_id == counter.id and cell.misuse is False
        assert cell.day == stored[0].local_day
        rolled[(cell.item_code, cell.level)] += cell.count
    assert rolled == raw


def test_local_day_is_counted_in_vietnam():
    from datetime import UTC, date, datetime

    # 18:30 UTC on 31 December is already 1 January in Hanoi.
    assert service.local_day(datetime(2026, 12, 31, 18, 30, tzinfo=UTC)) == date(2027, 1, 1)


def test_back_and_forward_keep_answers(client, token):
    client.post(f"/s/{token}")
    first = client.get(f"/s/{token}/1").get_data(as_text=True)
    answers = page_answers(first, pick=2)
    assert client.post(f"/s/{token}/1", data={**answers, "nav": "next"}).status_code == 303
    second = client.get(f"/s/{token}/2").get_data(as_text=True)
    partial = {"r-TT1": ["1"]}
    back = client.post(f"/s/{token}/2", data={**partial, "nav": "back"})
    assert back.headers["Location"].endswith(f"/s/{token}/1")
    again = client.get(f"/s/{token}/1").get_data(as_text=True)
    assert again.count(" checked") == 4 and 'value="3" checked' in again
    assert 'name="r-TT1" value="1" checked' in client.get(f"/s/{token}/2").get_data(as_text=True)
    assert "r-TT1" in second


def test_a_locked_phone_resumes_where_it_left(app, token):
    phone = app.test_client()
    phone.post(f"/s/{token}")
    for number in (1, 2):
        html = phone.get(f"/s/{token}/{number}").get_data(as_text=True)
        phone.post(f"/s/{token}/{number}", data={**page_answers(html), "nav": "next"})
    # The browser was closed: a new client (no cookies) opens the same link.
    later = app.test_client()
    intro = later.get(f"/s/{token}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Continue from page 3" in intro
    start = later.post(f"/s/{token}")
    assert start.headers["Location"].endswith(f"/s/{token}/3")
    assert later.get(f"/s/{token}/1").get_data(as_text=True).count(" checked") == 4


def test_switching_language_keeps_the_answers_of_the_current_page(client, token):
    client.post(f"/s/{token}")
    html = client.get(f"/s/{token}/1", headers={"Accept-Language": "vi"}).get_data(as_text=True)
    assert 'value="lang:en"' in html
    switched = client.post(f"/s/{token}/1", data={"r-TC1": ["5"], "nav": "lang:en"})
    assert switched.status_code == 303 and switched.headers["Location"].endswith(f"/s/{token}/1")
    page = client.get(f"/s/{token}/1").get_data(as_text=True)
    assert 'lang="en"' in page and "Very satisfied" in page
    assert 'name="r-TC1" value="5" checked' in page


def test_moving_forward_needs_every_item_answered(client, token):
    client.post(f"/s/{token}")
    page = client.post(f"/s/{token}/1", data={"r-TC1": ["5"], "nav": "next"},
                       headers={"Accept-Language": "vi"})
    html = page.get_data(as_text=True)
    assert page.status_code == 422
    assert "Vui lòng chọn một câu trả lời." in html
    assert 'href="#r-TC2-first"' in html and 'aria-describedby="r-TC2-error"' in html
    # The one answer given is still shown, and nothing was stored.
    assert 'name="r-TC1" value="5" checked' in html
    assert count(SurveyDraft) == 0


BAD_INPUTS = [
    ({"r-XX9": ["5"]}, "unknown item code"),
    ({"r-TT1": ["5"]}, "an item of another page"),
    ({"r-TC1": ["7"]}, "level above 5"),
    ({"r-TC1": ["-1"]}, "negative level"),
    ({"r-TC1": ["5", "4"]}, "two levels for one item"),
    ({"r-TC1": ["très"]}, "not a number"),
]


@pytest.mark.parametrize(("extra", "why"), BAD_INPUTS, ids=[why for _e, why in BAD_INPUTS])
def test_bad_rating_input_is_refused_and_nothing_is_written(client, token, extra, why):
    client.post(f"/s/{token}")
    html = client.get(f"/s/{token}/1").get_data(as_text=True)
    form = {**page_answers(html), **extra, "nav": "next"}
    page = client.post(f"/s/{token}/1", data=form, headers={"Accept-Language": "en"})
    assert page.status_code == 422, why
    assert "Please check your answers" in page.get_data(as_text=True)
    assert count(SurveyDraft) == 0


def _to_last_pages(client, token) -> None:
    client.post(f"/s/{token}")
    for number in range(1, 6):
        html = client.get(f"/s/{token}/{number}").get_data(as_text=True)
        assert client.post(f"/s/{token}/{number}",
                           data={**page_answers(html), "nav": "next"}).status_code == 303


def test_more_than_three_priorities_is_refused(client, token):
    _to_last_pages(client, token)
    html = client.get(f"/s/{token}/6").get_data(as_text=True)
    form = {**page_answers(html), "nav": "next",
            "q-priorities": ["officer_attitude", "processing_time", "transparency",
                             "online_services"]}
    before = service.get_draft(service.resolve(token).token_key).data
    page = client.post(f"/s/{token}/6", data=form, headers={"Accept-Language": "vi"})
    assert page.status_code == 422
    shown = page.get_data(as_text=True)
    assert "Vui lòng chọn tối đa 3." in shown
    assert shown.count('type="checkbox" name="q-priorities"') == 7
    assert len(re.findall(r'name="q-priorities" value="[a-z_]+" checked', shown)) == 4
    db.session.expire_all()
    assert service.get_draft(service.resolve(token).token_key).data == before


def test_unknown_options_are_refused(client, token):
    _to_last_pages(client, token)
    html = client.get(f"/s/{token}/6").get_data(as_text=True)
    for bad in ({"q-trips": ["9"]}, {"q-priorities": ["free_coffee"]},
                {"q-priorities": ["transparency", "transparency"]}, {"q-comment": ["hi"]}):
        page = client.post(f"/s/{token}/6", data={**page_answers(html), **bad, "nav": "next"})
        assert page.status_code == 422, bad


def test_an_over_long_comment_is_refused_and_nothing_is_stored(client, token):
    _to_last_pages(client, token)
    html = client.get(f"/s/{token}/6").get_data(as_text=True)
    client.post(f"/s/{token}/6", data={**page_answers(html), "nav": "next"})
    page = client.post(f"/s/{token}/7", data={"q-comment": ["x" * 1001], "nav": "submit"},
                       headers={"Accept-Language": "en"})
    assert page.status_code == 422
    assert "at most 1,000 characters" in page.get_data(as_text=True)
    assert "x" * 1001 in page.get_data(as_text=True)  # kept on screen, to be shortened
    assert count(SurveyResponse) == 0 and count(RollupCount) == 0
    # Exactly 1,000 characters (line breaks counted once, as the browser counts them) is fine.
    text = ("y" * 498 + "\r\n") * 2
    ok = client.post(f"/s/{token}/7", data={"q-comment": [text], "nav": "submit"})
    assert ok.status_code == 303 and ok.headers["Location"].endswith("/thanks")
    assert len(responses()[0].comment) == 997


def test_the_comment_is_optional(client, token):
    _to_last_pages(client, token)
    html = client.get(f"/s/{token}/6").get_data(as_text=True)
    client.post(f"/s/{token}/6", data={**page_answers(html), "nav": "next"})
    assert client.post(f"/s/{token}/7", data={"nav": "submit"}).status_code == 303
    assert responses()[0].comment is None


def test_pages_cannot_be_skipped(client, token):
    client.post(f"/s/{token}")
    # Asking for page 4 first sends the citizen to the first page not yet answered.
    assert client.get(f"/s/{token}/4").headers["Location"].endswith(f"/s/{token}/1")
    page = client.post(f"/s/{token}/4", data={"r-CC1": ["5"], "nav": "next"},
                       headers={"Accept-Language": "vi"})
    assert page.status_code == 422
    assert "Vui lòng trả lời các trang trước" in page.get_data(as_text=True)
    assert count(SurveyDraft) == 0
    assert client.get(f"/s/{token}/99").status_code == 404
    assert client.post(f"/s/{token}/1", data={"nav": "sideways"}).status_code == 400


def test_submitting_early_sends_back_to_the_missing_page(client, token):
    client.post(f"/s/{token}")
    html = client.get(f"/s/{token}/1").get_data(as_text=True)
    client.post(f"/s/{token}/1", data={**page_answers(html), "nav": "next"})
    result = service.submit(service.resolve(token), service.resolve(token).token_key, {},
                            browser_id="b" * 32, ip="127.0.0.1", locale="vi")
    assert result.outcome == "incomplete" and result.step == 2
    assert count(SurveyResponse) == 0


def test_the_final_submit_is_idempotent(client, token):
    complete_survey(client, token)
    again = client.post(f"/s/{token}/7", data={"nav": "submit"})
    assert again.status_code == 303 and again.headers["Location"].endswith("/thanks")
    assert client.get(f"/s/{token}").status_code == 303  # the sender is shown thanks again
    assert count(SurveyResponse) == 1
    assert db.session.scalar(select(func.sum(RollupCount.count)).where(
        RollupCount.item_code == "RESP")) == 1


def test_a_kiosk_survey_is_accepted_before_its_tap_arrives(client, counter):
    kiosk = make_kiosk(counter)
    rating = "6f1c2b9e-4a57-4a8e-9d51-3d1f0b6a7c20"
    token = kiosk_token(kiosk, rating, officer="CB001", procedure="HT-001", dossier="HS-77")
    complete_survey(client, token)
    (response,) = responses()
    assert response.channel == "kiosk_qr" and response.token_key == f"k:{kiosk.id}:{rating}"
    assert response.kiosk_id == kiosk.id
    assert response.kiosk_rating_uuid == rating and response.dossier_code == "HS-77"
    assert response.officer_id is not None and response.procedure_id is not None
    assert db.session.scalar(select(KioskRating).where(KioskRating.uuid == rating)) is None
    # The tap syncs later; the link resolves by uuid, with no foreign key to wait for.
    from datetime import UTC, datetime

    db.session.add(KioskRating(
        uuid=rating, kiosk_id=kiosk.id, seq=1, unit_id=kiosk.unit_id, counter_id=counter.id,
        scale=3, level=5, device_time=datetime.now(UTC), local_day=response.local_day,
        local_hour=9))
    db.session.commit()
    linked = db.session.scalar(select(KioskRating.level).join(
        SurveyResponse, SurveyResponse.kiosk_rating_uuid == KioskRating.uuid))
    assert linked == 5


def test_the_policy_module_is_asked_when_the_active_version_enables_it(client, token):
    from core.questionnaire_definition import load_definition

    current = db.session.scalar(select(Questionnaire).where(Questionnaire.active.is_(True)))
    raw = load_definition(current.definition).with_policy(True)
    current.active = False
    db.session.add(Questionnaire(code=raw["code"], version=raw["version"],
                                 method_version=raw["method_version"], definition=raw,
                                 policy_enabled=True, active=True))
    db.session.commit()
    survey = service.survey_for(None)
    assert survey.total == 11 and survey.version == 2
    assert [s.element.code for s in survey.steps[5:9]] == ["PGT", "PTG", "PCL", "PKQ"]
    complete_survey(client, token)
    (response,) = responses()
    assert response.questionnaire.version == 2
    codes = {a.item_code for a in response.answers}
    assert {f"PL{n}" for n in range(1, 15)} <= codes and len(codes) == 33


def test_every_post_needs_a_csrf_token(app_factory, demo, token):
    app = app_factory(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    assert client.post(f"/s/{token}").status_code == 400
    intro = client.get(f"/s/{token}").get_data(as_text=True)
    start = client.post(f"/s/{token}", data={"csrf_token": csrf_token(intro)})
    assert start.status_code == 303
    page = client.get(start.headers["Location"]).get_data(as_text=True)
    refused = client.post(start.headers["Location"], data={**page_answers(page), "nav": "next"})
    assert refused.status_code == 400
    assert count(SurveyDraft) == 0
    accepted = client.post(start.headers["Location"], data={
        **page_answers(page), "nav": "next", "csrf_token": csrf_token(page)})
    assert accepted.status_code == 303
    assert count(SurveyAnswer) == 0 and count(SurveyDraft) == 1


def survey_pages(client, token) -> list[tuple[str, str]]:
    """(path, html) of every page a citizen sees, in order, answering as they go."""
    seen = [(f"/s/{token}", client.get(f"/s/{token}").get_data(as_text=True))]
    location = client.post(f"/s/{token}").headers["Location"]
    while not location.endswith("/thanks"):
        html = client.get(location).get_data(as_text=True)
        seen.append((location, html))
        nav = "submit" if 'value="submit"' in html else "next"
        location = client.post(location, data={**page_answers(html), "nav": nav}).headers[
            "Location"]
    seen.append((location, client.get(location).get_data(as_text=True)))
    seen.append(("expired", client.get(f"/s/{token}x").get_data(as_text=True)))
    return seen


def test_every_page_weighs_under_60_kb_compressed_and_has_no_inline_script_or_style(
    client, token
):
    import gzip

    pages = survey_pages(client, token)
    assert len(pages) == 10
    for path, html in pages:
        styles = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
        assert len(styles) == 2, path
        assert "<script" not in html and 'style="' not in html and " onclick" not in html
        total = len(gzip.compress(html.encode()))
        for href in styles:
            sheet = client.get(href)
            total += len(gzip.compress(sheet.get_data()))
            sheet.close()
        assert total <= 60 * 1024, (path, total)


def test_a_survey_started_on_one_version_finishes_on_it(client, token):
    from core.questionnaire_definition import load_definition

    client.post(f"/s/{token}")
    html = client.get(f"/s/{token}/1").get_data(as_text=True)
    client.post(f"/s/{token}/1", data={**page_answers(html), "nav": "next"})
    # The administrator switches the policy module on (a new version) mid-survey.
    current = db.session.scalar(select(Questionnaire).where(Questionnaire.active.is_(True)))
    raw = load_definition(current.definition).with_policy(True)
    current.active = False
    db.session.add(Questionnaire(code=raw["code"], version=raw["version"],
                                 method_version=raw["method_version"], definition=raw,
                                 policy_enabled=True, active=True))
    db.session.commit()
    page = client.get(f"/s/{token}/2", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Page 2 of 7" in page
    complete_survey(client, token)
    (response,) = responses()
    assert response.questionnaire.version == 1 and len(response.answers) == 19


def test_a_failure_while_storing_leaves_nothing_half_written_and_the_retry_counts_once(
    client, token, monkeypatch
):
    from sqlalchemy.exc import OperationalError

    _to_last_pages(client, token)
    html = client.get(f"/s/{token}/6").get_data(as_text=True)
    client.post(f"/s/{token}/6", data={**page_answers(html), "nav": "next"})
    target = service.resolve(token)
    real_add = service.rollups.add

    def dropped_connection(keys):
        raise OperationalError("INSERT INTO rollup_counts", {}, Exception("connection lost"))

    monkeypatch.setattr(service.rollups, "add", dropped_connection)
    with pytest.raises(OperationalError):
        service.submit(target, target.token_key, {"q-comment": ["Tốt"]}, browser_id="d" * 32,
                       ip="127.0.0.1", locale="vi")
    db.session.rollback()
    assert count(SurveyResponse) == 0 and count(SurveyAnswer) == 0 and count(RollupCount) == 0
    assert not service.get_draft(target.token_key).data.get("submitted_by")
    # The citizen taps Send again once the database is back: stored once, counted once.
    monkeypatch.setattr(service.rollups, "add", real_add)
    again = client.post(f"/s/{token}/7", data={"q-comment": ["Tốt"], "nav": "submit"})
    assert again.status_code == 303
    retry = client.post(f"/s/{token}/7", data={"q-comment": ["Tốt"], "nav": "submit"})
    assert retry.headers["Location"].endswith("/thanks")
    assert count(SurveyResponse) == 1
    assert db.session.scalar(select(func.sum(RollupCount.count)).where(
        RollupCount.item_code == "RESP")) == 1


def test_old_drafts_are_purged_from_the_command_line(runner, client, token):
    from datetime import timedelta

    from core.models import utcnow

    client.post(f"/s/{token}")
    html = client.get(f"/s/{token}/1").get_data(as_text=True)
    client.post(f"/s/{token}/1", data={**page_answers(html), "nav": "next"})
    db.session.add(SurveyDraft(token_key="d:1:OLD", data={}, step=1,
                               updated_at=utcnow() - timedelta(days=31)))
    db.session.commit()
    result = runner.invoke(args=["survey", "purge-drafts", "--days", "30"])
    assert result.exit_code == 0 and "deleted 1 survey drafts" in result.output
    db.session.rollback()
    assert [d.token_key for d in db.session.scalars(select(SurveyDraft))] == [
        service.resolve(token).token_key]
