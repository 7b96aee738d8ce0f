"""Survey tokens: who signed them, until when, and that each transaction is answered once."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.extensions import db
from core.models import Counter, RollupCount, SurveyDraft, SurveyResponse, Unit, utcnow
from core.services.errors import ServiceError
from core.services.survey import flow as service
from core.services.survey.links import DOSSIER_PURPOSE, dossier_token, poster_token
from core.tokens import aggregator_key, sign
from tests.conftest import SECRET
from tests.support.survey import (
    complete_survey,
    kiosk_token,
    make_kiosk,
    page_answers,
    tamper,
)


@pytest.fixture
def counter(demo) -> Counter:
    return db.session.scalars(select(Counter).order_by(Counter.id)).first()


@pytest.fixture
def kiosk(counter):
    return make_kiosk(counter)


def count(model) -> int:
    db.session.rollback()  # a fresh snapshot: other threads may have written
    return db.session.scalar(select(func.count()).select_from(model))


def nothing_stored() -> bool:
    return count(SurveyDraft) == 0 and count(SurveyResponse) == 0 and count(RollupCount) == 0


def test_a_kiosk_token_is_verified_with_that_kiosks_secret(app, kiosk, counter):
    rating = str(uuid.uuid4())
    target = service.resolve(kiosk_token(kiosk, rating))
    assert target.channel == "kiosk_qr" and target.token_key == f"k:{kiosk.id}:{rating}"
    assert target.kiosk_id == kiosk.id
    assert target.unit_id == counter.unit_id and target.counter_id == counter.id
    assert target.kiosk_rating_uuid == rating


def test_a_kiosk_whose_clock_is_behind_gets_a_day_of_grace(app, kiosk):
    # The kiosk's clock was 20 hours slow: by the aggregator's clock its token expired already.
    assert service.resolve(kiosk_token(kiosk, days=-20 / 24)).channel == "kiosk_qr"
    with pytest.raises(ServiceError) as problem:
        service.resolve(kiosk_token(kiosk, days=-25 / 24))
    assert problem.value.code == "expired"


def test_aggregator_tokens_expire_on_time(app, counter):
    with app.test_request_context():
        token = dossier_token(counter.unit_id, "HS-5", days=1)
    assert service.resolve(token, now=time.time() + 86400 - 5).channel == "api"
    with pytest.raises(ServiceError) as problem:
        service.resolve(token, now=time.time() + 86400 + 5)
    assert problem.value.code == "expired"


def test_a_token_signed_with_another_secret_is_refused(app, kiosk):
    with pytest.raises(ServiceError) as problem:
        service.resolve(kiosk_token(kiosk, secret="someone-elses-secret-0123456789abcdef"))
    assert problem.value.code == "tampered"


def test_the_previous_secret_works_only_during_its_grace_period(app, kiosk):
    old = "the-previous-kiosk-secret-0123456789abcdef"
    token = kiosk_token(kiosk, secret=old)
    kiosk.previous_secret, kiosk.previous_secret_until = old, utcnow() + timedelta(hours=1)
    db.session.commit()
    assert service.resolve(token).channel == "kiosk_qr"
    kiosk.previous_secret_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    with pytest.raises(ServiceError):
        service.resolve(token)


def test_a_kiosk_counter_from_another_unit_is_not_trusted(app, kiosk, counter):
    other = db.session.scalars(
        select(Counter).where(Counter.unit_id != counter.unit_id)).first()
    payload_kiosk = type("K", (), {"public_id": kiosk.public_id, "unit_id": kiosk.unit_id,
                                   "counter_id": other.id, "secret": kiosk.secret})
    target = service.resolve(kiosk_token(payload_kiosk))
    assert target.counter_id == counter.id and target.unit_id == counter.unit_id


def test_poster_and_dossier_tokens_cannot_stand_in_for_each_other(app, counter):
    payload = {"t": "p", "a": 1, "u": counter.unit_id, "c": counter.id,
               "exp": int(time.time()) + 3600}
    forged = sign(payload, aggregator_key(SECRET, DOSSIER_PURPOSE))
    with pytest.raises(ServiceError) as problem:
        service.resolve(forged)
    assert problem.value.code == "tampered"
    with app.test_request_context():
        assert service.resolve(poster_token(counter)).channel == "poster"
        assert service.resolve(dossier_token(counter.unit_id, "X1")).channel == "api"


def _bad_tokens(app, kiosk, counter) -> dict[str, tuple[str, int]]:
    good = kiosk_token(kiosk)
    with app.test_request_context():
        no_unit = dossier_token(99999, "HS-1")
        no_counter = sign({"t": "p", "a": 1, "u": counter.unit_id, "c": 99999,
                           "exp": int(time.time()) + 60},
                          aggregator_key(SECRET, "survey-poster"))
    stranger = type("K", (), {"public_id": str(uuid.uuid4()), "unit_id": 1, "counter_id": 1,
                              "secret": "x" * 40})
    return {
        "tampered": (tamper(good), 403),
        "expired": (kiosk_token(kiosk, days=-1.5), 410),
        "unknown kiosk": (kiosk_token(stranger), 404),
        "unknown unit": (no_unit, 404),
        "unknown counter": (no_counter, 404),
        "malformed": ("not-a-token", 400),
        "bad base64": ("@@@.@@@", 400),
        "unknown kind": (sign({"t": "z", "exp": int(time.time()) + 60}, "k" * 32), 400),
    }


def test_bad_tokens_get_a_friendly_page_with_a_4xx_and_nothing_is_stored(app, client, kiosk,
                                                                         counter):
    for why, (token, status) in _bad_tokens(app, kiosk, counter).items():
        for method, path in (("get", f"/s/{token}"), ("post", f"/s/{token}"),
                             ("get", f"/s/{token}/1"),
                             ("post", f"/s/{token}/1"), ("get", f"/s/{token}/thanks")):
            response = getattr(client, method)(
                path, data={"r-TC1": ["5"], "nav": "next"} if method == "post" else None,
                headers={"Accept-Language": "vi"})
            assert response.status_code == status, (why, method, path)
            html = response.get_data(as_text=True)
            assert "Ông/Bà có thể:" in html, why  # says what the citizen can do
    assert nothing_stored()


@pytest.mark.parametrize(("locale", "title", "todo"), [
    ("vi", "Đường dẫn khảo sát đã hết hạn", "mã QR dán tại quầy"),
    ("en", "This survey link has expired", "QR poster at the counter"),
])
def test_the_problem_page_speaks_the_citizens_language(client, kiosk, locale, title, todo):
    response = client.get(f"/s/{kiosk_token(kiosk, days=-2)}",
                          headers={"Accept-Language": locale})
    html = response.get_data(as_text=True)
    assert response.status_code == 410
    assert f'<html lang="{locale}">' in html and title in html and todo in html


def test_a_revoked_kiosks_tokens_are_refused(client, kiosk):
    token = kiosk_token(kiosk)
    kiosk.status = "revoked"
    db.session.commit()
    response = client.get(f"/s/{token}", headers={"Accept-Language": "en"})
    assert response.status_code == 410
    assert "no longer valid" in response.get_data(as_text=True)


def test_a_used_token_tells_another_phone_it_was_already_answered(app, kiosk):
    token = kiosk_token(kiosk)
    first = app.test_client()
    assert complete_survey(first, token).status_code == 200
    other = app.test_client()
    for response in (other.get(f"/s/{token}", headers={"Accept-Language": "vi"}),
                     other.post(f"/s/{token}/7", data={"nav": "submit"},
                                headers={"Accept-Language": "vi"})):
        assert response.status_code == 409
        assert "Khảo sát này đã được trả lời" in response.get_data(as_text=True)
    # The phone that answered is shown its thank-you page again.
    assert first.get(f"/s/{token}").headers["Location"].endswith("/thanks")
    assert count(SurveyResponse) == 1


def _ready_to_submit(app, token):
    """Two phones on the same token: the first answered pages 1..6, the second has the link."""
    first, second = app.test_client(), app.test_client()
    first.post(f"/s/{token}")
    for number in range(1, 7):
        html = first.get(f"/s/{token}/{number}").get_data(as_text=True)
        assert first.post(f"/s/{token}/{number}",
                          data={**page_answers(html), "nav": "next"}).status_code == 303
    assert second.get(f"/s/{token}/7").status_code == 200
    return first, second


def _submit_at_once(phone, token, barrier, results) -> None:
    barrier.wait()
    response = phone.post(f"/s/{token}/7", data={"nav": "submit"},
                          headers={"Accept-Language": "en"})
    results.append((response.status_code, response.get_data(as_text=True)))


def test_two_concurrent_submissions_of_one_token_store_exactly_one(app, kiosk):
    rounds = 4
    for _round in range(rounds):
        token = kiosk_token(kiosk)
        phones = _ready_to_submit(app, token)
        db.session.rollback()
        barrier = threading.Barrier(len(phones), timeout=30)
        results: list[tuple[int, str]] = []

        threads = [threading.Thread(target=_submit_at_once, args=(phone, token, barrier, results))
                   for phone in phones]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads)
        statuses = sorted(status for status, _html in results)
        assert statuses == [303, 409], statuses
        loser = next(html for status, html in results if status == 409)
        assert "already been answered" in loser
    assert count(SurveyResponse) == rounds
    responses_rolled = db.session.scalar(
        select(func.sum(RollupCount.count)).where(RollupCount.item_code == "RESP"))
    assert responses_rolled == rounds


def test_the_unique_key_decides_even_when_the_draft_does_not_know(app, kiosk, counter):
    """A response stored by another path (the draft never marked) still wins: no second row."""
    token = kiosk_token(kiosk)
    _ready_to_submit(app, token)
    target = service.resolve(token)
    questionnaire_id = service.get_draft(target.token_key).data["q"]
    db.session.add(SurveyResponse(
        token_key=target.token_key, channel="kiosk_qr", questionnaire_id=questionnaire_id,
        unit_id=counter.unit_id, local_day=service.local_day(utcnow())))
    db.session.commit()
    result = service.submit(target, target.token_key, {}, browser_id="c" * 32, ip="127.0.0.1",
                            locale="vi")
    assert result.outcome == "used"
    assert count(SurveyResponse) == 1 and count(RollupCount) == 0


def test_an_inactive_unit_no_longer_takes_dossier_surveys(app, client, counter):
    with app.test_request_context():
        token = dossier_token(counter.unit_id, "HS-9")
    db.session.get(Unit, counter.unit_id).active = False
    db.session.commit()
    assert client.get(f"/s/{token}").status_code == 404


@pytest.mark.parametrize("public_id", ["\x00", "1f0c\x00" + "0" * 31, "k" * 500])
def test_a_link_naming_an_impossible_kiosk_id_is_unknown_not_a_crash(demo, client, public_id):
    # Found: the survey looked the kiosk up itself, and PostgreSQL refuses to compare a string
    # holding a NUL byte, so such a link gave a 500. It uses the sync API's lookup now.
    token = sign({"t": "k", "k": public_id, "r": str(uuid.uuid4()),
                  "exp": int(time.time()) + 3600}, "any-key")
    for response in (client.get(f"/s/{token}"), client.post(f"/s/{token}/1", data={})):
        assert response.status_code == 404
        assert "Không tìm thấy quầy hoặc thiết bị" in response.get_data(as_text=True)
