"""The whole loop with real processes: a seeded gunicorn aggregator, a gunicorn kiosk enrolled
through the CLI, the real sync worker; an officer signs in, arms a transaction, a citizen taps
"Not satisfied" and picks two reasons, scans the thank-you QR and answers the phone survey; the
aggregator then holds one rating, one linked response, their rollups and the dashboard figures.
"""

from __future__ import annotations

import contextlib
import html as htmllib
import json
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from core.models import (
    Kiosk,
    KioskRating,
    Officer,
    Procedure,
    RollupCount,
    SurveyResponse,
    Unit,
    User,
)
from core.models.kiosk_local import OutboxRating
from kiosk.thanks import qr_svg
from tests.support.kiosk import followup_ref
from tests.support.kiosk_http import KioskClient, LiveBrowser
from tests.support.live import Server, bound_socket, fresh_database_url, prepared
from tests.support.survey import complete_survey, live_db
from tests.support.sync_live import KioskNode, register_code

pytestmark = pytest.mark.processes

DOSSIER = "H01-E2E-000123"
PROCEDURE = "HT-001"  # "Đăng ký khai sinh" in the demo catalogue
OFFICER, PIN = "CB001", "1111"  # the demo roster of counter Q01
SURVEY_URL_RE = re.compile(r'data-survey-url="([^"]+)"')
QR_RE = re.compile(r"<svg.*?</svg>", re.S)
REASON_RE = re.compile(r'name="reason" value="([^"]+)"')


@pytest.fixture(scope="module")
def aggregator(tmp_path_factory):
    """A seeded aggregator whose public address (what QR codes point at) is its own."""
    tmp = tmp_path_factory.mktemp("e2e-aggregator")
    listener = bound_socket()  # its port is ours from now on: the address goes into the config
    env = prepared("aggregator", fresh_database_url("e2e_agg", tmp), tmp / "instance",
                   SIPAS_PUBLIC_URL=f"http://127.0.0.1:{listener.getsockname()[1]}")
    server = Server(env, listener=listener, log_path=tmp / "gunicorn.log").start()
    yield server
    server.close()


@pytest.fixture
def kiosk(aggregator, tmp_path, request):
    """A kiosk device: enrolled with `flask kiosk enroll`, its gunicorn serving the screens."""
    node = KioskNode(tmp_path, "kiosk")
    node.public_id = node.enroll(aggregator.url,
                                 register_code(aggregator.env, request.node.name[:60]))
    server = Server(node.env, workers=1, log_path=tmp_path / "kiosk-gunicorn.log").start()
    node.server = server
    yield node
    server.close()
    node.close()


def location(headers: dict[str, str], base: str) -> str:
    found = headers.get("Location", "")
    return found[len(base):] if found.startswith(base) else found


def thanks_page(screen: KioskClient, path: str) -> tuple[str, str]:
    """The survey link of a thank-you screen and the QR code drawn on it."""
    status, html, _headers = screen.request("GET", path)
    assert status == 200, status
    url = htmllib.unescape(SURVEY_URL_RE.search(html).group(1))
    qr = QR_RE.search(html)
    assert qr, "the thank-you screen shows no QR code"
    # The QR code encodes exactly this link: drawn again from it, it is the same picture.
    assert qr.group(0) == qr_svg(url)
    return url, qr.group(0)


def answer_survey(url: str) -> None:
    """Open the QR's link as a phone would and answer every page."""
    parts = urlsplit(url)
    phone = LiveBrowser(f"{parts.scheme}://{parts.netloc}")
    last = complete_survey(phone, parts.path.rsplit("/", 1)[1])
    assert last.status_code == 200


@contextlib.contextmanager
def aggregator_session(aggregator) -> Iterator[Session]:
    """A read-only look at the aggregator's own database."""
    engine = create_engine(aggregator.env["SIPAS_DATABASE_URL"])
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def rollups(session: Session, **where) -> dict[tuple[str, int], int]:
    query = select(RollupCount.item_code, RollupCount.level, func.sum(RollupCount.count))
    for name, value in where.items():
        query = query.where(getattr(RollupCount, name) == value)
    rows = session.execute(query.group_by(RollupCount.item_code, RollupCount.level)).all()
    return {(code, level): int(n) for code, level, n in rows}


def assert_survey_rollups_match(session: Session, unit_id: int) -> None:
    """The respondents rolled up on the QR channel equal the stored responses."""
    stored = session.scalar(select(func.count()).select_from(SurveyResponse).where(
        SurveyResponse.unit_id == unit_id, SurveyResponse.channel == "kiosk_qr"))
    assert stored >= 1
    assert rollups(session, channel="kiosk_qr", unit_id=unit_id,
                   item_code="RESP") == {("RESP", 0): stored}


def test_tap_follow_up_qr_survey_reach_the_dashboard_once_and_linked(aggregator, kiosk):
    screen = KioskClient(kiosk.server.url)
    screen.open_idle()
    # The officer signs in on the staff screen and arms the transaction being served.
    status, _html, headers = screen.request("POST", "/kiosk/staff", {
        "officer": OFFICER, "pin": PIN, "csrf_token": screen.token})
    assert status == 303, status
    status, _html, _headers = screen.request("POST", "/kiosk/staff/arm", {
        "dossier_code": DOSSIER, "procedure_code": PROCEDURE, "csrf_token": screen.token})
    assert status == 303, status
    screen.request("POST", "/kiosk/staff/close", {"csrf_token": screen.token})

    # The citizen: "Not satisfied", then two reasons on the follow-up.
    idle = screen.open_idle()
    assert "Nguyễn Thị Lan" in idle  # the officer on duty is on the screen
    status, followup = screen.tap(2)
    assert status == 303 and "/kiosk/followup" in followup
    status, page, _headers = screen.request("GET", location({"Location": followup},
                                                            kiosk.server.url))
    assert status == 200
    reasons = REASON_RE.findall(page)[:2]
    assert len(reasons) == 2
    status, _html, headers = screen.request("POST", "/kiosk/followup", {
        "r": followup_ref(page), "reason": reasons, "action": "send",
        "csrf_token": screen.token})
    assert status == 303
    survey_url, _qr = thanks_page(screen, location(headers, kiosk.server.url))
    assert survey_url.startswith(aggregator.url + "/s/")

    # The real worker (forever, one-second interval) carries the rating over.
    kiosk.start_worker()
    assert kiosk.wait_drained(60), kiosk.log_text()
    kiosk.kill_worker()
    assert kiosk.statuses() == {"sent": 1}

    answer_survey(survey_url)

    with aggregator_session(aggregator) as session:
        kiosk_row = session.scalar(select(Kiosk).where(Kiosk.public_id == kiosk.public_id))
        unit = session.scalar(select(Unit).where(Unit.code == "T-DEMO-TTHCC"))
        officer = session.scalar(select(Officer).where(Officer.code == OFFICER,
                                                       Officer.unit_id == unit.id))
        procedure = session.scalar(select(Procedure).where(Procedure.code == PROCEDURE))
        ratings = session.scalars(select(KioskRating)
                                  .where(KioskRating.kiosk_id == kiosk_row.id)).all()
        assert len(ratings) == 1
        rating = ratings[0]
        assert (rating.level, rating.scale, rating.seq) == (2, 3, 1)
        assert rating.officer_id == officer.id and rating.procedure_id == procedure.id
        assert rating.dossier_code == DOSSIER
        assert sorted(rating.reasons) == sorted(reasons) and rating.misuse is None
        assert rating.unit_id == unit.id and rating.counter_id == kiosk_row.counter_id

        responses = session.scalars(select(SurveyResponse).where(
            SurveyResponse.kiosk_rating_uuid == rating.uuid)).all()
        assert len(responses) == 1
        response = responses[0]
        assert response.kiosk_rating_uuid == rating.uuid
        assert response.token_key == f"k:{rating.kiosk_id}:{rating.uuid}"
        assert response.channel == "kiosk_qr"
        assert response.misuse is None and response.dossier_code == DOSSIER

        day = rating.local_day
        taps = rollups(session, channel="kiosk", unit_id=unit.id, day=day,
                       officer_id=officer.id, procedure_id=procedure.id)
        assert taps == {("TAP", 2): 1, **{(f"reason:{code}", 0): 1 for code in reasons}}
        assert_survey_rollups_match(session, unit.id)
        # What the dashboard must show for the unit and day: a count over the raw taps.
        day_taps = session.scalars(select(KioskRating.level).where(
            KioskRating.unit_id == unit.id, KioskRating.local_day == day,
            KioskRating.misuse.is_(None))).all()
        respondents = session.scalar(select(func.count()).select_from(SurveyResponse).where(
            SurveyResponse.unit_id == unit.id, SurveyResponse.misuse.is_(None)))
        unit_id = unit.id
    n = len(day_taps)
    rate = 100 * sum(level >= 4 for level in day_taps) / n

    with live_db(aggregator):
        from core.extensions import db
        from core.services.reporting import figures, filters, periods

        unit = db.session.get(Unit, unit_id)
        head = figures.headline(filters.Filters(unit, periods.Period("custom", day, day)),
                                with_previous=False)
        # A handful of taps: the rate and its n, shown as "không đủ mẫu" below n = 10.
        assert head.counter_rate.n == n and head.counter_rate.value == pytest.approx(rate)
        assert head.counter_rate.suppressed and head.respondents == respondents
        assert head.tap_distribution[2] == sum(level == 2 for level in day_taps) >= 1

        from core.services.accounts import api_tokens

        admin = db.session.scalar(select(User).where(User.username == "admin"))
        token = api_tokens.create(admin, "e2e")
        db.session.commit()  # the service flushes; the test commits
    api = LiveBrowser(aggregator.url)
    api.opener.addheaders = [("Authorization", f"Bearer {token}")]
    status, body, _headers = api.request(
        "GET", f"/api/v1/reports/indices?unit=T-DEMO-TTHCC&period=custom&start={day}&end={day}")
    assert status == 200, body
    answer = json.loads(body)
    assert answer["counter_rate"]["n"] == n and answer["counter_rate"]["suppressed"] is True
    assert answer["counter_rate"]["value"] is None  # suppressed figures carry no number
    assert answer["respondents"] == respondents >= 1


def test_a_survey_sent_before_its_tap_syncs_is_accepted_and_linked_after(aggregator, kiosk):
    screen = KioskClient(kiosk.server.url)
    screen.open_idle()
    status, thanks = screen.tap(5)  # "Very satisfied": no follow-up, straight to the thanks
    assert status == 303 and "/kiosk/thanks" in thanks
    survey_url, _qr = thanks_page(screen, location({"Location": thanks}, kiosk.server.url))
    with Session(kiosk.engine) as session:
        rating_uuid = session.scalar(select(OutboxRating.uuid))
    answer_survey(survey_url)  # the kiosk has not synced: the aggregator has no such rating yet

    with aggregator_session(aggregator) as session:
        kiosk_row = session.scalar(select(Kiosk).where(Kiosk.public_id == kiosk.public_id))
        assert session.scalar(select(func.count()).select_from(KioskRating)
                              .where(KioskRating.kiosk_id == kiosk_row.id)) == 0
        response = session.scalar(select(SurveyResponse).where(
            SurveyResponse.token_key == f"k:{kiosk_row.id}:{rating_uuid}"))
        assert response is not None and response.kiosk_rating_uuid == rating_uuid
        assert response.channel == "kiosk_qr" and response.counter_id == kiosk_row.counter_id
        assert_survey_rollups_match(session, kiosk_row.unit_id)

    assert kiosk.sync_once().returncode == 0  # `flask kiosk sync --once`
    assert kiosk.statuses() == {"sent": 1}
    with aggregator_session(aggregator) as session:
        rating = session.scalar(select(KioskRating).where(KioskRating.uuid == rating_uuid))
        assert rating is not None and rating.level == 5 and rating.misuse is None
        linked = session.scalars(select(SurveyResponse)
                                 .where(SurveyResponse.kiosk_rating_uuid == rating.uuid)).all()
        assert len(linked) == 1 and linked[0].token_key == f"k:{rating.kiosk_id}:{rating.uuid}"
        taps = rollups(session, channel="kiosk", counter_id=rating.counter_id,
                       day=rating.local_day, item_code="TAP", level=5)
        assert taps == {("TAP", 5): session.scalar(
            select(func.count()).select_from(KioskRating).where(
                KioskRating.counter_id == rating.counter_id, KioskRating.level == 5,
                KioskRating.local_day == rating.local_day))} == {("TAP", 5): 1}
        assert_survey_rollups_match(session, rating.unit_id)


@pytest.mark.browser
def test_the_visible_loop_in_chromium_touch_kiosk_and_phone(aggregator, kiosk, browser):
    """What people see: the kiosk at 1080×1920 with touch, then the phone at 360×740."""
    screen = browser.new_context(viewport={"width": 1080, "height": 1920}, has_touch=True,
                                 locale="vi-VN")
    page = screen.new_page()
    page.goto(kiosk.server.url + "/kiosk/staff")
    page.select_option("#officer", OFFICER)
    page.fill("#pin", PIN)
    page.locator("form[action$='/kiosk/staff'] button[type=submit]").tap()
    page.fill("#dossier_code", DOSSIER)
    page.fill("#procedure_code", PROCEDURE)
    page.locator("form[action$='/kiosk/staff/arm'] button[type=submit]").tap()
    page.locator("form[data-kiosk-close] button").tap()
    page.wait_for_url("**/kiosk/")
    assert "Nguyễn Thị Lan" in page.inner_text("body")

    page.get_by_role("button", name="Không hài lòng").tap()
    page.wait_for_url("**/kiosk/followup?r=*")
    chips = page.locator(".kiosk-chip")
    chosen = [chips.nth(i).locator("input").get_attribute("value") for i in (0, 1)]
    chips.nth(0).tap()
    chips.nth(1).tap()
    page.locator(".kiosk-action--send").tap()
    page.wait_for_url("**/kiosk/thanks?r=*")
    qr = page.locator("figure.kiosk-qr")
    assert qr.is_visible() and qr.locator("svg").bounding_box()["width"] >= 200
    survey_url = qr.get_attribute("data-survey-url")
    assert survey_url.startswith(aggregator.url + "/s/")
    screen.close()

    phone = browser.new_context(viewport={"width": 360, "height": 740}, locale="vi-VN")
    page = phone.new_page()
    page.goto(survey_url)
    page.get_by_role("button", name="Bắt đầu khảo sát").click()
    for _ in range(20):
        if "/thanks" in page.url:
            break
        for fieldset in page.locator("fieldset").all():
            fieldset.locator("label.sv-opt").nth(0).click()
        send = page.get_by_role("button", name="Gửi câu trả lời")
        (send if send.count() else page.get_by_role("button", name="Tiếp theo")).click()
    assert page.get_by_role("heading", level=1).inner_text() == "Xin cảm ơn Ông/Bà!"
    phone.close()

    assert kiosk.sync_once().returncode == 0
    with Session(kiosk.engine) as session:
        rating_uuid = session.scalar(select(OutboxRating.uuid))
    with aggregator_session(aggregator) as session:
        rating = session.scalar(select(KioskRating).where(KioskRating.uuid == rating_uuid))
        assert rating.level == 2 and sorted(rating.reasons) == sorted(chosen)
        assert rating.dossier_code == DOSSIER and rating.officer_id is not None
        response = session.scalar(select(SurveyResponse).where(
            SurveyResponse.kiosk_rating_uuid == rating_uuid))
        assert response.channel == "kiosk_qr" and response.dossier_code == DOSSIER
