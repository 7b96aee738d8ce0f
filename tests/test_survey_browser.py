"""A real phone-sized browser (360×740) completes the survey in Vietnamese, in English and with
JavaScript disabled; axe-core checks every page for serious or critical accessibility problems."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from core.extensions import db
from core.models import Counter, SurveyResponse
from core.services.survey.links import dossier_token
from tests.support.a11y import axe_violations
from tests.support.survey import kiosk_token, live_db, make_kiosk

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}
_numbers = itertools.count(1)


def new_token(server, kind: str = "dossier") -> str:
    with live_db(server):
        counter = db.session.scalars(select(Counter).order_by(Counter.id)).first()
        if kind == "kiosk":
            return kiosk_token(make_kiosk(counter), procedure="HT-001")
        return dossier_token(counter.unit_id, f"HS-B{next(_numbers)}", counter_id=counter.id)


def stored(server, token_key_suffix: str) -> SurveyResponse | None:
    with live_db(server):
        row = db.session.scalar(select(SurveyResponse).where(
            SurveyResponse.token_key.endswith(token_key_suffix)))
        if row is not None:
            db.session.expunge(row)
        return row


def check_page(page, checked: list[str], axe: bool = True) -> None:
    """Axe finds nothing serious, and the page reflows at 200% zoom (no sideways scrolling)."""
    if not axe:
        return
    assert axe_violations(page) == [], page.url
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], (page.url, width)
    # 200% zoom on this phone leaves 180 CSS pixels: the page must still reflow.
    page.set_viewport_size({"width": PHONE["width"] // 2, "height": PHONE["height"] // 2})
    width = page.evaluate("document.documentElement.scrollWidth")
    page.set_viewport_size(PHONE)
    assert width <= PHONE["width"] // 2, (page.url, "at 200%", width)
    checked.append(page.url)


def answer_page(page, pick: int) -> None:
    """Answer every question on the page the way a thumb would: tap the label."""
    for fieldset in page.locator("fieldset").all():
        options = fieldset.locator("label.sv-opt")
        if fieldset.locator("input[type=checkbox]").count():
            options.nth(0).click()
            options.nth(2).click()
        else:
            options.nth(pick % options.count()).click()
    text = page.locator("textarea")
    if text.count():
        text.fill("Cán bộ hướng dẫn tận tình, nhưng chỗ ngồi chờ còn ít.")


def submit(page, button) -> None:
    """Click a button that submits a form and wait for the next page: a click only starts the
    navigation, and a key pressed or a check made before it ends lands on the old document."""
    with page.expect_navigation():
        button.click()


def run_survey(page, base: str, token: str, labels: dict[str, str], pick: int,
               axe: bool = True) -> list[str]:
    checked: list[str] = []
    page.goto(f"{base}/s/{token}")
    check_page(page, checked, axe)
    start = page.get_by_role("button", name=labels["start"])
    if not start.count():  # a survey already begun offers to continue instead
        start = page.get_by_role("button", name=labels["resume"])
    submit(page, start)
    for _ in range(20):
        if "/thanks" in page.url:
            break
        assert page.locator(".sv-progress").inner_text().startswith(labels["page"])
        answer_page(page, pick)
        check_page(page, checked, axe)
        send = page.get_by_role("button", name=labels["send"])
        submit(page, send if send.count() else page.get_by_role("button", name=labels["next"]))
    assert page.get_by_role("heading", level=1).inner_text() == labels["thanks"]
    check_page(page, checked, axe)
    return checked


VI = {"start": "Bắt đầu khảo sát", "next": "Tiếp theo", "send": "Gửi câu trả lời",
      "thanks": "Xin cảm ơn Ông/Bà!", "page": "Trang", "resume": "Tiếp tục từ trang"}
EN = {"start": "Start the survey", "next": "Next", "send": "Send my answers",
      "thanks": "Thank you!", "page": "Page", "resume": "Continue from page"}


def test_a_citizen_completes_the_survey_in_vietnamese(browser, live_aggregator):
    token = new_token(live_aggregator, "kiosk")
    context = browser.new_context(viewport=PHONE, locale="vi-VN")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    checked = run_survey(page, live_aggregator.url, token, VI, pick=0)
    assert len(checked) == 9  # intro, seven pages, thank-you
    assert errors == []  # no CSP violation or script error
    context.close()
    from core.tokens import peek

    row = stored(live_aggregator, peek(token)["r"])
    assert row is not None and row.locale == "vi" and row.channel == "kiosk_qr"
    assert row.comment.startswith("Cán bộ")


def test_a_citizen_completes_the_survey_in_english_switching_language_midway(
    browser, live_aggregator
):
    token = new_token(live_aggregator)
    context = browser.new_context(viewport=PHONE, locale="vi-VN")
    page = context.new_page()
    page.goto(f"{live_aggregator.url}/s/{token}")
    submit(page, page.get_by_role("button", name=VI["start"]))
    # Answer half of page 1 in Vietnamese, then switch: the answers stay.
    page.locator("fieldset").nth(0).get_by_text("Hài lòng", exact=True).click()
    page.get_by_role("button", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("fieldset").nth(0).get_by_label("Satisfied", exact=True).is_checked()
    checked = run_survey(page, live_aggregator.url, token, EN, pick=1)
    assert len(checked) == 9
    context.close()
    row = stored(live_aggregator, token_suffix(token))
    assert row is not None and row.locale == "en"


def token_suffix(token: str) -> str:
    from core.tokens import peek

    payload = peek(token)
    return f":{payload['u']}:{payload['d']}"


def test_the_survey_works_with_javascript_disabled(browser, live_aggregator):
    token = new_token(live_aggregator)
    context = browser.new_context(viewport=PHONE, locale="en-US", java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_aggregator.url}/s/{token}")
    submit(page, page.get_by_role("button", name=EN["start"]))
    # The language buttons are plain form buttons: they work, and keep answers, without script.
    page.locator("fieldset").nth(1).get_by_text("Neutral", exact=True).click()
    submit(page, page.get_by_role("button", name="Tiếng Việt"))
    assert page.locator("html").get_attribute("lang") == "vi"
    assert page.locator("fieldset").nth(1).get_by_label("Bình thường", exact=True).is_checked()
    submit(page, page.get_by_role("button", name="English"))
    run_survey(page, live_aggregator.url, token, EN, pick=2, axe=False)
    context.close()
    row = stored(live_aggregator, token_suffix(token))
    assert row is not None and row.priorities == ["officer_attitude", "simpler_procedures"]


def test_keyboard_focus_is_visible_on_every_kind_of_control(browser, live_aggregator):
    token = new_token(live_aggregator)
    context = browser.new_context(viewport=PHONE, locale="vi-VN")
    page = context.new_page()
    page.goto(f"{live_aggregator.url}/s/{token}")
    submit(page, page.get_by_role("button", name=VI["start"]))
    seen: dict[str, str] = {}
    for _ in range(12):
        page.keyboard.press("Tab")
        kind, outline = page.evaluate(
            "() => { const e = document.activeElement; const s = getComputedStyle(e);"
            " return [e.tagName + ':' + (e.type || ''), s.outlineStyle + ' ' + s.outlineWidth]; }")
        if kind != "BODY:":  # past the last control focus returns to the document
            seen.setdefault(kind, outline)
    assert {"A:", "BUTTON:submit", "INPUT:radio"} <= set(seen), seen
    assert all(outline.startswith("solid 3px") for outline in seen.values()), seen
    # Arrow keys move within one item's answers, and the answer follows the focus.
    page.locator("#r-TC1-first").focus()
    page.keyboard.press("ArrowDown")
    assert page.locator("fieldset").nth(0).get_by_label("Hài lòng", exact=True).is_checked()
    context.close()


def test_problem_and_error_pages_are_accessible(browser, live_aggregator):
    token = new_token(live_aggregator)
    context = browser.new_context(viewport=PHONE, locale="vi-VN")
    page = context.new_page()
    checked: list[str] = []
    page.goto(f"{live_aggregator.url}/s/{token[:-3]}xyz")
    assert "không hợp lệ" in page.get_by_role("heading", level=1).inner_text()
    check_page(page, checked)
    page.goto(f"{live_aggregator.url}/s/{token}")
    submit(page, page.get_by_role("button", name=VI["start"]))
    submit(page, page.get_by_role("button", name=VI["next"]))  # nothing answered
    assert page.get_by_role("alert").is_visible()
    check_page(page, checked)
    assert len(checked) == 2
    context.close()
