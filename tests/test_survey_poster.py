"""QR posters: one long-lived token per counter, a fresh response per citizen, and limits per
address and per browser whose excess is stored flagged (never lost, never counted)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.extensions import db
from core.models import Counter, RollupCount, SurveyResponse
from core.ratelimit import RedisBackend
from core.services.survey.links import poster_token
from tests.conftest import redis_url
from tests.support.survey import complete_survey


@pytest.fixture(params=["memory", "redis"])
def limits(request, app):
    """The rate-limit store: memory, and Redis when TEST_REDIS_URL names one (as in CI)."""
    if request.param == "redis":
        backend = RedisBackend(redis_url())
        backend._redis.flushdb()
        app.extensions["sipas_ratelimit"] = backend
    return request.param


@pytest.fixture
def counter(demo) -> Counter:
    return db.session.scalars(select(Counter).order_by(Counter.id)).first()


@pytest.fixture
def token(app, counter) -> str:
    with app.test_request_context():
        return poster_token(counter)


def stored() -> list[SurveyResponse]:
    db.session.rollback()
    return list(db.session.scalars(select(SurveyResponse).order_by(SurveyResponse.id)))


def rolled_respondents(misuse: bool) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.coalesce(func.sum(RollupCount.count), 0)).where(
        RollupCount.item_code == "RESP", RollupCount.misuse.is_(misuse))) or 0


def phone(app, ip: str = "203.0.113.7"):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client


def test_each_citizen_at_a_poster_gets_a_response_of_their_own(app, limits, token, counter):
    for n in range(3):
        complete_survey(phone(app, f"203.0.113.{n + 1}"), token)
    responses = stored()
    assert len(responses) == 3
    assert len({r.token_key for r in responses}) == 3
    assert all(r.token_key.startswith(f"p:{counter.id}:") for r in responses)
    assert {r.channel for r in responses} == {"poster"} and {r.misuse for r in responses} == {None}
    assert rolled_respondents(misuse=False) == 3


def test_one_browser_over_its_limit_is_stored_flagged_and_not_counted(app, limits, token):
    app.config["SURVEY_POSTER_BROWSER_LIMIT"] = (2, 86400)
    same = phone(app)
    for _ in range(4):
        assert complete_survey(same, token).status_code == 200
    responses = stored()
    assert [r.misuse for r in responses] == [None, None, "rate_limited", "rate_limited"]
    assert rolled_respondents(misuse=False) == 2 and rolled_respondents(misuse=True) == 2
    # Every answer of a flagged response is kept too, under misuse.
    db.session.rollback()
    flagged_items = db.session.scalar(select(func.sum(RollupCount.count)).where(
        RollupCount.item_code == "TC1", RollupCount.misuse.is_(True)))
    assert flagged_items == 2


def test_one_address_over_its_limit_is_stored_flagged(app, limits, token):
    app.config["SURVEY_POSTER_IP_LIMIT"] = (2, 3600)
    for _ in range(3):
        complete_survey(phone(app, "198.51.100.9"), token)  # three browsers, one address
    complete_survey(phone(app, "198.51.100.10"), token)
    assert [r.misuse for r in stored()] == [None, None, "rate_limited", None]


def test_a_double_tap_on_send_stores_one_poster_response(app, limits, token):
    citizen = phone(app)
    complete_survey(citizen, token)
    again = citizen.post(f"/s/{token}/7", data={"nav": "submit"})
    assert again.status_code == 303 and again.headers["Location"].endswith("/thanks")
    assert len(stored()) == 1
    # Opening the poster again offers a new survey rather than the one already sent.
    intro = citizen.get(f"/s/{token}", headers={"Accept-Language": "en"})
    assert intro.status_code == 200 and "Start the survey" in intro.get_data(as_text=True)


def test_starting_too_many_poster_surveys_from_one_address_is_refused(app, limits, token):
    app.config["SURVEY_POSTER_START_LIMIT"] = (2, 3600)
    for _ in range(2):
        assert phone(app).post(f"/s/{token}").status_code == 303
    refused = phone(app).post(f"/s/{token}", headers={"Accept-Language": "en"})
    assert refused.status_code == 429
    assert "Please wait a few minutes" in refused.get_data(as_text=True)


def test_a_poster_page_without_a_started_survey_goes_back_to_the_intro(app, token):
    response = phone(app).get(f"/s/{token}/3")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/s/{token}")
    assert stored() == []


def test_answers_are_kept_when_the_rate_limit_store_is_down(app, token, caplog):
    from core.ratelimit import RedisBackend

    # A Redis nobody listens on: every hit fails to connect.
    app.extensions["sipas_ratelimit"] = RedisBackend("redis://127.0.0.1:1/0")
    assert complete_survey(phone(app), token).status_code == 200
    (response,) = stored()
    assert response.misuse is None
    assert "rate-limit store unavailable" in caplog.text
